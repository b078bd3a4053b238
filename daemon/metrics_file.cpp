#include "metrics_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <ctime>
#include <new>

#include "ublk/fd.h"

namespace ublk {
namespace {

size_t FileBytes(uint16_t nr_queues) {
  return sizeof(metrics::FileHeader) +
         size_t{nr_queues} * sizeof(metrics::QueueBlock);
}

// The header's checks, in the order that gives the most useful line.
Result<void> CheckHeader(const std::string& what, const metrics::FileHeader& h,
                         size_t file_bytes) {
  if (std::memcmp(h.magic, metrics::kMagic, sizeof(h.magic)) != 0)
    return Invalid(what + " is not a ublk metrics file (bad magic); not used");
  if (h.version != metrics::kLayoutVersion)
    return Invalid(what + " has layout version " + std::to_string(h.version) +
                   ", this ublk reads version " +
                   std::to_string(metrics::kLayoutVersion) +
                   " (server and ublk from different releases?); not used");
  if (h.header_bytes != sizeof(metrics::FileHeader) ||
      h.queue_block_bytes != sizeof(metrics::QueueBlock) ||
      file_bytes != FileBytes(h.nr_queues))
    return Invalid(what + " has another layout (sizes differ); not used");
  return {};
}

}  // namespace

std::string MetricsPath(const std::string& dir, uint32_t dev_id) {
  return dir + "/" + std::to_string(dev_id) + ".metrics";
}

uint64_t MonotonicNs() noexcept {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000u +
         static_cast<uint64_t>(ts.tv_nsec);
}

Result<MetricsFile> MetricsFile::Create(const std::string& dir, uint32_t dev_id,
                                        uint16_t nr_queues,
                                        const std::string& name) {
  const std::string path = MetricsPath(dir, dev_id);
  const std::string tmp = path + ".tmp";
  ::unlink(tmp.c_str());  // a leftover from a crash
  auto fd = Fd::Open(tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                     0644);
  if (!fd) return fd.error();
  const size_t bytes = FileBytes(nr_queues);
  auto fail = [&](int err, const std::string& doing) {
    ::unlink(tmp.c_str());
    return SysError(err, doing + " " + tmp);
  };
  // Zero-filled: every counter starts at 0. Allocated now, not sized
  // sparse: on a full file system a queue's first store into a page
  // that has no block would be SIGBUS.
  if (int err = ::posix_fallocate(fd->get(), 0, static_cast<off_t>(bytes)))
    return fail(err, "allocating");
  auto map = Mmap::Map(bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
                       fd->get(), 0, "the metrics file");
  if (!map) {
    ::unlink(tmp.c_str());
    return map.error();
  }
  // The counters are atomics living in the file's zeroed pages: begin
  // their lifetime there (all zero bytes is a zero atomic<uint64_t>).
  auto* header = new (map->data()) metrics::FileHeader{};
  std::memcpy(header->magic, metrics::kMagic, sizeof(header->magic));
  header->version = metrics::kLayoutVersion;
  header->header_bytes = sizeof(metrics::FileHeader);
  header->queue_block_bytes = sizeof(metrics::QueueBlock);
  header->dev_id = dev_id;
  header->nr_queues = nr_queues;
  header->pid = ::getpid();
  header->started_monotonic_ns = MonotonicNs();
  std::strncpy(header->name, name.c_str(), sizeof(header->name) - 1);
  MetricsFile file(std::move(*map));
  for (uint16_t q = 0; q < nr_queues; ++q) new (file.queue(q)) metrics::QueueBlock{};
  if (::rename(tmp.c_str(), path.c_str()) != 0) return fail(errno, "renaming");
  return file;
}

metrics::QueueBlock* MetricsFile::queue(uint16_t q) const {
  return reinterpret_cast<metrics::QueueBlock*>(
      static_cast<char*>(map_.data()) + sizeof(metrics::FileHeader) +
      size_t{q} * sizeof(metrics::QueueBlock));
}

Result<MetricsView> MetricsView::Open(const std::string& dir, uint32_t dev_id,
                                      uid_t owner) {
  const std::string path = MetricsPath(dir, dev_id);
  const std::string what = "metrics file " + path;
  auto fd = Fd::Open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (!fd) {
    if (fd.error().code().value() == ENOENT) return fd.error();
    if (fd.error().code().value() == ELOOP)
      return Invalid(what + " is a symlink; not used");
    return fd.error().Wrap(what);
  }
  struct stat st {};
  if (::fstat(fd->get(), &st) != 0) return SysError(errno, "reading " + path);
  if (!S_ISREG(st.st_mode)) return Invalid(what + " is not a regular file; not used");
  if (st.st_uid != owner)
    return Invalid(what + " is owned by uid " + std::to_string(st.st_uid) +
                   ", not " + std::to_string(owner) + "; not used");
  if (st.st_mode & (S_IWGRP | S_IWOTH))
    return Invalid(what + " is writable by group or others; not used");
  const size_t bytes = static_cast<size_t>(st.st_size);
  if (bytes < sizeof(metrics::FileHeader) ||
      bytes > FileBytes(abi::kMaxQueues))
    return Invalid(what + " has another layout (" + std::to_string(bytes) +
                   " bytes); not used");
  auto map = Mmap::Map(bytes, PROT_READ, MAP_SHARED, fd->get(), 0, what.c_str());
  if (!map) return map.error();
  MetricsView view(std::move(*map));
  UBLK_RETURN_IF_ERROR(CheckHeader(what, view.header(), bytes));
  if (view.header().dev_id != dev_id)
    return Invalid(what + " describes device " +
                   std::to_string(view.header().dev_id) + "; not used");
  return view;
}

const metrics::QueueBlock& MetricsView::queue(uint16_t q) const {
  return *reinterpret_cast<const metrics::QueueBlock*>(
      static_cast<const char*>(map_.data()) + sizeof(metrics::FileHeader) +
      size_t{q} * sizeof(metrics::QueueBlock));
}

}  // namespace ublk

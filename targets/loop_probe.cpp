#include "loop_probe.h"

#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>

#include "loop_io.h"
#include "ublk/ring.h"

namespace ublk {
namespace {

// One value from the queue limits of the block device `rdev` (a partition
// has them in its parent's folder). Empty when absent.
std::string QueueAttr(dev_t rdev, const char* name) {
  const std::string base = "/sys/dev/block/" + std::to_string(major(rdev)) +
                           ":" + std::to_string(minor(rdev));
  for (const std::string& dir : {base + "/queue/", base + "/../queue/"}) {
    std::ifstream in(dir + name);
    std::string line;
    if (in && std::getline(in, line)) return line;
  }
  return "";
}

uint64_t QueueNumber(dev_t rdev, const char* name) {
  std::string text = QueueAttr(rdev, name);
  if (text.empty() || text[0] < '0' || text[0] > '9') return 0;
  return std::stoull(text);
}

// Whether this kernel takes BLOCK_URING_CMD_DISCARD (6.12+) on the device: a
// zero-length discard is refused as invalid (-EINVAL) by a kernel that knows
// the command, and as unsupported (-EOPNOTSUPP) by one that does not.
bool BlockDiscardWorks(int fd) {
  auto ring = Ring::Create({.entries = 2});
  if (!ring) return false;
  io_uring* r = ring->get();
  io_uring_sqe* sqe = io_uring_get_sqe(r);
  io_uring_prep_rw(IORING_OP_URING_CMD, sqe, fd, nullptr, 0, 0);
  sqe->cmd_op = kBlockUringCmdDiscard;
  sqe->addr = 0;
  sqe->addr3 = 0;
  if (io_uring_submit_and_wait(r, 1) < 0) return false;
  io_uring_cqe* cqe = nullptr;
  if (io_uring_peek_cqe(r, &cqe) != 0) return false;
  const int res = cqe->res;
  io_uring_cqe_seen(r, cqe);
  return res == 0 || res == -EINVAL;
}

void ProbeBlock(int fd, const struct stat& st, BackingFacts& f) {
  f.is_block = true;
  (void)::ioctl(fd, BLKGETSIZE64, &f.size);
  int lbs = 0;
  unsigned pbs = 0, io_opt = 0;
  if (::ioctl(fd, BLKSSZGET, &lbs) == 0 && lbs > 0)
    f.logical_block = static_cast<uint32_t>(lbs);
  if (::ioctl(fd, BLKPBSZGET, &pbs) == 0) f.physical_block = pbs;
  if (::ioctl(fd, BLKIOOPT, &io_opt) == 0) f.io_opt = io_opt;
  f.rotational = QueueNumber(st.st_rdev, "rotational") != 0;
  f.write_back_cache = QueueAttr(st.st_rdev, "write_cache") != "write through";
  f.discard_granularity =
      static_cast<uint32_t>(QueueNumber(st.st_rdev, "discard_granularity"));
  // fallocate(ZERO_RANGE) on a block device zeroes with the device's
  // write-zeroes command or, failing that, by writing zero pages.
  f.can_zero = f.writable;
  f.can_discard = f.writable &&
                  QueueNumber(st.st_rdev, "discard_max_bytes") > 0 &&
                  BlockDiscardWorks(fd);
}

void ProbeFile(int fd, const struct stat& st, BackingFacts& f) {
  f.size = static_cast<uint64_t>(st.st_size);
  f.physical_block = static_cast<uint32_t>(st.st_blksize);
  f.discard_granularity = static_cast<uint32_t>(st.st_blksize);
  if (f.writable) {
    // Punching a hole past the end changes nothing but says whether the
    // file system can punch at all (tmpfs, ext4, xfs can).
    const off_t past_end = (st.st_size + 4095) / 4096 * 4096;
    f.can_discard = ::fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                                past_end, 4096) == 0;
  }
}

}  // namespace

Result<void> SetDirect(int fd, bool direct) {
  int fl = ::fcntl(fd, F_GETFL);
  if (fl < 0) return SysError(errno, "reading the backing file's flags");
  fl = direct ? (fl | O_DIRECT) : (fl & ~O_DIRECT);
  if (::fcntl(fd, F_SETFL, fl) != 0)
    return SysError(errno, direct ? "enabling O_DIRECT" : "disabling O_DIRECT");
  return {};
}

Result<OpenedBacking> OpenBacking(const std::string& path, bool read_only) {
  if (path.empty())
    return Invalid("the loop target needs a backing file: -f PATH");
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return Invalid(path + " does not exist");
    return SysError(errno, path);
  }
  if (S_ISDIR(st.st_mode))
    return Invalid(path + " is a directory, not a file or block device");
  if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
    return Invalid(path + " is neither a regular file nor a block device");

  OpenedBacking b;
  // O_EXCL on a block device: refuse one that is mounted or claimed by
  // another driver, as the kernel's own claim would.
  const int excl = S_ISBLK(st.st_mode) ? O_EXCL : 0;
  int fd = ::open(path.c_str(), (read_only ? O_RDONLY : O_RDWR) | excl | O_CLOEXEC);
  if (fd < 0 && !read_only && (errno == EROFS || errno == EACCES || errno == EPERM)) {
    const int err = errno;
    fd = ::open(path.c_str(), O_RDONLY | excl | O_CLOEXEC);
    if (fd >= 0)
      b.read_only_reason = std::error_code(err, std::generic_category()).message();
    else
      errno = err;
  }
  if (fd < 0) {
    if (errno == EBUSY)
      return Invalid(path + " is in use (mounted, or claimed by another driver)");
    if (errno == EACCES || errno == EPERM)
      return Invalid("no permission to open " + path);
    return SysError(errno, "opening " + path);
  }
  b.fd = Fd(fd);
  b.facts.writable = !read_only && b.read_only_reason.empty();
  if (S_ISBLK(st.st_mode))
    ProbeBlock(fd, st, b.facts);
  else
    ProbeFile(fd, st, b.facts);

  b.facts.direct_ok = SetDirect(fd, true).ok() && SetDirect(fd, false).ok();
  struct statx sx {};
  if (::statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &sx) == 0 &&
      (sx.stx_mask & STATX_DIOALIGN)) {
    // Both zero: this file does not support direct I/O at all.
    if (sx.stx_dio_offset_align == 0) b.facts.direct_ok = false;
    b.facts.dio_offset_align = sx.stx_dio_offset_align;
    b.facts.dio_mem_align = sx.stx_dio_mem_align;
  }
  return b;
}

}  // namespace ublk

#include "shmem_region.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <memory>

namespace ublk {
namespace {

constexpr long kHugetlbfsMagic = 0x958458f6;
constexpr long kTmpfsMagic = 0x01021994;

}  // namespace

Result<std::unique_ptr<ShmemRegion>> ShmemRegion::Open(const std::string& path) {
  const std::string what = "--htlb " + path;
  Fd fd(::open(path.c_str(), O_RDWR | O_CLOEXEC));
  if (!fd.valid()) return SysError(errno, "opening " + what);
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return SysError(errno, "examining " + what);
  if (!S_ISREG(st.st_mode))
    return Invalid(what + ": not a regular file (create it on a hugetlbfs "
                          "mount, for example /dev/hugepages)");
  struct statfs fs;
  if (::fstatfs(fd.get(), &fs) != 0) return SysError(errno, "examining " + what);
  // The kernel pins the pages for as long as the device lives; it refuses
  // such pins of ordinary file-system pages (they must stay movable and
  // writeback-able), so only hugetlbfs and tmpfs files do.
  if (static_cast<long>(fs.f_type) != kHugetlbfsMagic &&
      static_cast<long>(fs.f_type) != kTmpfsMagic)
    return Invalid(what + ": not on hugetlbfs or tmpfs (the kernel pins "
                          "shared-memory buffers for good, which it allows "
                          "only there)");
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  const uint64_t page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  if (size == 0)
    return Invalid(what + ": the file is empty (give it the size the "
                          "application maps, e.g. with fallocate -l 2M)");
  // The kernel takes up to 4 GiB, but the queues also register the memory
  // as an io_uring fixed buffer, which may be 1 GiB at most.
  if (size > (uint64_t{1} << 30))
    return Invalid(what + ": larger than 1 GiB, the most this server can "
                          "register (an io_uring fixed buffer's limit)");
  if (size % page != 0)
    return Invalid(what + ": its size is not a whole number of pages");
  auto map = Mmap::Map(size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
                       fd.get(), 0, what.c_str());
  if (!map) return map.error();
  return std::unique_ptr<ShmemRegion>(
      new ShmemRegion(path, std::move(fd), std::move(*map)));
}

}  // namespace ublk

#include "unprivileged.h"

#include <linux/capability.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace ublk {

bool HasCapSysAdmin() {
  __user_cap_header_struct header{};
  header.version = _LINUX_CAPABILITY_VERSION_3;
  header.pid = 0;
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  if (::syscall(SYS_capget, &header, data) != 0) return ::geteuid() == 0;
  return (data[CAP_TO_INDEX(CAP_SYS_ADMIN)].effective &
          CAP_TO_MASK(CAP_SYS_ADMIN)) != 0;
}

uint64_t UnprivilegedFeatures(uint64_t kernel_features) {
  return kernel_features & ~(kUnprivilegedRefused | kUnprivilegedDropped);
}

Result<void> CheckUnprivilegedSpec(uint64_t kernel_features,
                                   const DeviceSpec& spec, bool file_is_path) {
  if (!(kernel_features & abi::kFUnprivilegedDev))
    return Invalid("this kernel's ublk_drv has no unprivileged devices "
                   "(UBLK_F_UNPRIVILEGED_DEV, Linux 6.3 or later): run as "
                   "root");
  const char* why = " the kernel refuses it to unprivileged devices (run as "
                    "root for it)";
  if (spec.zero_copy == ZeroCopy::kAuto ||
      spec.zero_copy == ZeroCopy::kExplicit)
    return Invalid(std::string("zero copy (-z) is for root only:") + why);
  if (spec.user_copy)
    return Invalid(std::string("user copy (--usercopy) is for root only:") +
                   why);
  if (spec.recovery != Recovery::kOff)
    return Invalid("recovery (-r) is for root only: the kernel drops "
                   "USER_RECOVERY from unprivileged devices (a server that "
                   "does not come back could hang them)");
  if (file_is_path && !spec.file.empty()) {
    const int mode = spec.read_only ? R_OK : R_OK | W_OK;
    // The real uid is the one the server runs as (add is not setuid).
    if (::access(spec.file.c_str(), mode) != 0 && errno != ENOENT)
      return Invalid("-f " + spec.file + ": you cannot open it for " +
                     (spec.read_only ? "reading" : "reading and writing") +
                     " (" + std::strerror(errno) +
                     "); the server of an unprivileged device opens it as "
                     "you, with no more rights than you have");
  }
  return {};
}

uint16_t DepthWithinMemlock(uint16_t depth, uint16_t queues,
                            uint32_t max_io_bytes, uint64_t memlock_bytes) {
  if (memlock_bytes == RLIM_INFINITY) return depth;
  const uint64_t per_tag = uint64_t{queues} * max_io_bytes;
  if (per_tag == 0) return depth;
  const uint64_t fit = memlock_bytes / 2 / per_tag;
  if (fit >= depth) return depth;
  return static_cast<uint16_t>(fit == 0 ? 1 : fit);
}

Result<void> CheckUnprivilegedFlags(uint64_t flags, const std::string& what) {
  if (flags & kUnprivilegedRefused)
    return Invalid(what + ": it is served only by zero copy or user copy, "
                          "which the kernel refuses to unprivileged devices "
                          "(run as root for it)");
  return {};
}

}  // namespace ublk

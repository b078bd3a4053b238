// Unprivileged devices (UBLK_F_UNPRIVILEGED_DEV, Linux 6.3+): what a caller
// without CAP_SYS_ADMIN may ask of ublk_drv.
//
// Without CAP_SYS_ADMIN, ADD_DEV must carry UNPRIVILEGED_DEV (else EPERM);
// the kernel then records the caller as the device's owner (owner_uid,
// owner_gid in GET_DEV_INFO), silently drops USER_RECOVERY and
// USER_RECOVERY_REISSUE, and refuses USER_COPY, SUPPORT_ZERO_COPY and
// AUTO_BUF_REG with EINVAL. Every later command names /dev/ublkcN
// (ctrl_cmd.h WithDevPath) and is allowed when the caller may open that node;
// only the owner may open /dev/ublkbN. The functions here let `ublk add` and
// the server refuse those cases up front, in one line saying why. Pure but
// for HasCapSysAdmin and the access check; any thread.
#pragma once

#include <cstdint>
#include <string>

#include "ublk/abi.h"
#include "ublk/result.h"
#include "ublk/spec.h"

namespace ublk {

// Whether this process has CAP_SYS_ADMIN in its effective set (what
// ublk_drv asks of a privileged device's commands).
bool HasCapSysAdmin();

// What the kernel refuses an unprivileged device, or drops from it.
inline constexpr uint64_t kUnprivilegedRefused =
    abi::kFUserCopy | abi::kFSupportZeroCopy | abi::kFAutoBufReg;
inline constexpr uint64_t kUnprivilegedDropped =
    abi::kFUserRecovery | abi::kFUserRecoveryReissue;

// The kernel's features as an unprivileged device may use them (the
// refused and dropped ones removed), for ChooseFlags.
uint64_t UnprivilegedFeatures(uint64_t kernel_features);

// Refuses, in one line naming the option and the kernel's rule, a spec an
// unprivileged device cannot have: a kernel without UNPRIVILEGED_DEV, zero
// copy (-z), user copy (--usercopy), recovery (-r), and a backing file
// (`file_is_path`: -f names a file, not an address) this user cannot open
// for reading (and writing, unless read-only).
Result<void> CheckUnprivilegedSpec(uint64_t kernel_features,
                                   const DeviceSpec& spec, bool file_is_path);

// The queue depth whose per-tag buffers (`queues` x depth x `max_io_bytes`,
// pinned as registered buffers and so counted against RLIMIT_MEMLOCK for a
// user without CAP_IPC_LOCK) take at most half of `memlock_bytes`, leaving
// room for a second device of the same user: `depth` when they fit or the
// limit is RLIM_INFINITY, else less, at least 1.
uint16_t DepthWithinMemlock(uint16_t depth, uint16_t queues,
                            uint32_t max_io_bytes, uint64_t memlock_bytes);

// For a device whose data path was chosen from what it is (`what`: "zoned
// namespace /dev/ng1n1"): refuses flags the kernel would refuse.
Result<void> CheckUnprivilegedFlags(uint64_t flags, const std::string& what);

}  // namespace ublk

#include "recovery.h"

#include <limits.h>
#include <unistd.h>

#include "feature_flags.h"

namespace ublk {

Result<uint64_t> RecoveryFlags(uint64_t kernel_features, Recovery mode) {
  switch (mode) {
    case Recovery::kOff:
      return uint64_t{0};
    case Recovery::kReissue:
      if (!(kernel_features & abi::kFUserRecovery) ||
          !(kernel_features & abi::kFUserRecoveryReissue))
        return Invalid(
            "recovery (-r) needs the ublk features USER_RECOVERY and "
            "USER_RECOVERY_REISSUE (Linux 6.1 or later), which this kernel "
            "lacks");
      return abi::kFUserRecovery | abi::kFUserRecoveryReissue;
    case Recovery::kFailIo:
      if (!(kernel_features & abi::kFUserRecovery) ||
          !(kernel_features & abi::kFUserRecoveryFailIo))
        return Invalid(
            "--recovery-mode=fail-io needs the ublk feature "
            "USER_RECOVERY_FAIL_IO (Linux 6.13 or later), which this kernel "
            "lacks");
      return abi::kFUserRecovery | abi::kFUserRecoveryFailIo;
    case Recovery::kFailInflight:
      if (!(kernel_features & abi::kFUserRecovery))
        return Invalid(
            "recovery needs the ublk feature USER_RECOVERY (Linux 6.0 or "
            "later), which this kernel lacks");
      return abi::kFUserRecovery;
  }
  return uint64_t{0};
}

Result<void> CheckRecoveryDataPath(Recovery mode, ZeroCopy zero_copy) {
  if (mode == Recovery::kOff || zero_copy != ZeroCopy::kExplicit) return {};
  return Invalid(
      "--zero-copy=explicit cannot be combined with recovery (-r): a server "
      "killed holding buffers it registered by hand can hang the device "
      "(seen on Linux 7.2); use -z (auto) or --zero-copy=off");
}

HandOverWay HandOverWayOf(uint64_t dev_flags) {
  if (!(dev_flags & abi::kFUserRecovery)) return HandOverWay::kNone;
  if ((dev_flags & abi::kFQuiesce) && !(dev_flags & abi::kFBatchIo))
    return HandOverWay::kQuiesce;
  if (dev_flags & abi::kFUserRecoveryReissue) return HandOverWay::kLeaveAsCrash;
  return HandOverWay::kNone;
}

std::string WhyNoHandOver(uint64_t dev_flags) {
  if (!(dev_flags & abi::kFUserRecovery))
    return "it was made without recovery (-r): no new server can take it "
           "over";
  if (dev_flags & abi::kFBatchIo)
    return "restarting a device with batch commands without failing I/O "
           "needs recovery mode reissue (-r), which this device does not have";
  return "restarting without failing I/O needs QUIESCE_DEV (ublk feature "
         "QUIESCE, Linux 6.16+) or recovery mode reissue; this device has "
         "neither";
}

Recovery RecoveryOfDevice(uint64_t dev_flags) {
  if (!(dev_flags & abi::kFUserRecovery)) return Recovery::kOff;
  if (dev_flags & abi::kFUserRecoveryFailIo) return Recovery::kFailIo;
  if (dev_flags & abi::kFUserRecoveryReissue) return Recovery::kReissue;
  return Recovery::kFailInflight;
}

DataPath DataPathOfDevice(uint64_t dev_flags, DataAccess access) {
  if (access == DataAccess::kNone)
    return (dev_flags & abi::kFUserCopy) ? DataPath::kNone : DataPath::kCopy;
  if (dev_flags & abi::kFAutoBufReg) return DataPath::kAutoBufReg;
  if (dev_flags & abi::kFSupportZeroCopy) return DataPath::kExplicitReg;
  if (dev_flags & abi::kFUserCopy) return DataPath::kUserCopy;
  if (dev_flags & abi::kFNeedGetData) return DataPath::kGetData;
  return DataPath::kCopy;
}

bool WaitsForServer(const abi::DevInfo& info) {
  return info.state == abi::kStateQuiesced || info.state == abi::kStateFailIo;
}

Result<void> CheckRecoverable(const DeviceState& state,
                              const abi::DevInfo& info) {
  const std::string dev = "device " + std::to_string(info.dev_id);
  if (!(info.flags & abi::kFUserRecovery))
    return Invalid(dev + " was not created with recovery (ublk add -r)");
  if (state.dev_id != info.dev_id)
    return Invalid("the state file describes device " +
                   std::to_string(state.dev_id) + ", not " + dev);
  if (state.queues != info.nr_hw_queues || state.depth != info.queue_depth)
    return Invalid("the state file of " + dev + " does not match it: " +
                   std::to_string(state.queues) + " queue(s) x depth " +
                   std::to_string(state.depth) + " recorded, the kernel has " +
                   std::to_string(info.nr_hw_queues) + " x " +
                   std::to_string(info.queue_depth));
  if (state.flags != info.flags) {
    std::string diff;
    for (const auto& name : FeatureNames(state.flags ^ info.flags))
      diff += (diff.empty() ? "" : " ") + name;
    return Invalid("the state file of " + dev +
                   " does not match it: the features differ in " + diff);
  }
  if (!WaitsForServer(info))
    return Invalid(dev + " is not waiting for a server (state " +
                   (info.state == abi::kStateLive ? "LIVE" : "DEAD") +
                   "): nothing to recover");
  return {};
}

bool ServerAlive(pid_t pid) {
  if (pid <= 0) return false;
  char exe[PATH_MAX];
  const std::string link = "/proc/" + std::to_string(pid) + "/exe";
  ssize_t n = ::readlink(link.c_str(), exe, sizeof(exe) - 1);
  if (n <= 0) return false;
  exe[n] = '\0';
  return std::string(exe).find("ublk-server") != std::string::npos;
}

}  // namespace ublk

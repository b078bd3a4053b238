#include "feature_flags.h"

#include "ublk/abi.h"

namespace ublk {
namespace {

constexpr const char* kNames[] = {
    "SUPPORT_ZERO_COPY",  "URING_CMD_COMP_IN_TASK", "NEED_GET_DATA",
    "USER_RECOVERY",      "USER_RECOVERY_REISSUE",  "UNPRIVILEGED_DEV",
    "CMD_IOCTL_ENCODE",   "USER_COPY",              "ZONED",
    "USER_RECOVERY_FAIL_IO", "UPDATE_SIZE",         "AUTO_BUF_REG",
    "QUIESCE",            "PER_IO_DAEMON",          "BUF_REG_OFF_DAEMON",
    "BATCH_IO",           "INTEGRITY",              "SAFE_STOP_DEV",
    "NO_AUTO_PART_SCAN",  "SHMEM_ZC",
};

}  // namespace

std::vector<std::string> FeatureNames(uint64_t flags) {
  std::vector<std::string> names;
  for (unsigned bit = 0; bit < 64; ++bit) {
    if (!(flags & (1ULL << bit))) continue;
    if (bit < std::size(kNames))
      names.emplace_back(kNames[bit]);
    else
      names.push_back("BIT_" + std::to_string(bit));
  }
  return names;
}

FlagChoice ChooseFlags(uint64_t kernel_features, DataAccess access) {
  FlagChoice c{abi::kFCmdIoctlEncode, DataPath::kCopy};
  if (access == DataAccess::kNone && (kernel_features & abi::kFUserCopy)) {
    c.flags |= abi::kFUserCopy;
    c.data_path = DataPath::kNone;
  }
  return c;
}

}  // namespace ublk

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

namespace {

bool AsksZeroCopy(ZeroCopy z) {
  return z == ZeroCopy::kAuto || z == ZeroCopy::kExplicit;
}

// The combinations no kernel takes, whatever it supports.
Result<void> CheckCombination(const DeviceSpec& s) {
  if (!s.shmem_file.empty() && !s.shmem_zc)
    return Invalid("--htlb names the memory for shared-memory zero copy: it "
                   "needs --shmem_zc");
  if (s.user_copy && AsksZeroCopy(s.zero_copy))
    return Invalid("user copy (--usercopy) and zero copy (-z) exclude each other: the "
                   "kernel takes UBLK_F_USER_COPY or UBLK_F_SUPPORT_ZERO_COPY/"
                   "AUTO_BUF_REG, not both");
  if (s.need_get_data && (s.user_copy || AsksZeroCopy(s.zero_copy) ||
                          s.shmem_zc))
    return Invalid("NEED_GET_DATA (-g) works only in copy mode, not with user "
                   "copy (--usercopy), zero copy (-z) or --shmem_zc (the kernel drops "
                   "UBLK_F_NEED_GET_DATA in copy-free modes)");
  if (s.shmem_zc && (s.user_copy || AsksZeroCopy(s.zero_copy)))
    return Invalid("shared-memory zero copy (--shmem_zc) cannot be combined "
                   "with user copy (--usercopy) or zero copy (-z)");
  if (s.batch == Batch::kOn && s.need_get_data)
    return Invalid("batch commands (--batch) cannot be combined with "
                   "NEED_GET_DATA (-g): UBLK_F_BATCH_IO has no two-step "
                   "WRITE handoff");
  if (s.shmem_zc && s.recovery != Recovery::kOff)
    return Invalid("shared-memory zero copy (--shmem_zc) cannot be combined "
                   "with recovery (-r): a new server would not hold the "
                   "registered memory");
  return {};
}

}  // namespace

Result<FlagChoice> ChooseFlags(uint64_t kernel_features, DataAccess access,
                               const DeviceSpec& spec) {
  UBLK_RETURN_IF_ERROR(CheckCombination(spec));
  if (spec.shmem_zc) {
    if (!(kernel_features & abi::kFShmemZc))
      return Invalid(
          "shared-memory zero copy (--shmem_zc) needs the ublk feature "
          "UBLK_F_SHMEM_ZC (Linux 7.1 or later), which this kernel "
          "lacks");
    // The memory comes from --htlb; the reference server also takes memfds
    // over a socket, which this one does not.
    if (spec.shmem_file.empty())
      return Invalid(
          "shared-memory zero copy (--shmem_zc) needs --htlb PATH: the file "
          "(hugetlbfs or tmpfs) the application maps for its I/O buffers");
    // Copy mode underneath: a request whose pages are not in the shared
    // memory is copied through the per-tag buffer as usual.
    return FlagChoice{abi::kFCmdIoctlEncode | abi::kFShmemZc, DataPath::kCopy};
  }
  if (spec.user_copy && access == DataAccess::kMemoryOrAutoBuf)
    return Invalid("user copy (--usercopy) is not for this target: it moves "
                   "request data through its own memory, or with -z through "
                   "the request's registered pages");
  if (spec.user_copy) {
    if (!(kernel_features & abi::kFUserCopy))
      return Invalid("user copy (--usercopy) needs the ublk feature UBLK_F_USER_COPY "
                     "(Linux 6.5 or later), which this kernel lacks");
    FlagChoice c{abi::kFCmdIoctlEncode | abi::kFUserCopy,
                 access == DataAccess::kNone ? DataPath::kNone
                                             : DataPath::kUserCopy};
    return c;
  }
  if (spec.need_get_data) {
    if (!(kernel_features & abi::kFNeedGetData))
      return Invalid(
          "NEED_GET_DATA (-g) needs the ublk feature UBLK_F_NEED_GET_DATA "
          "(Linux 6.0 or later), which this kernel does not offer");
    return FlagChoice{abi::kFCmdIoctlEncode | abi::kFNeedGetData,
                      DataPath::kGetData};
  }
  return ChooseFlags(kernel_features, access, spec.zero_copy);
}

namespace {

// The data path SPEC asks for that a device served only by zero copy or
// user copy (zoned, integrity) cannot have, or nullptr.
const char* DataPathBesideZeroOrUserCopy(const DeviceSpec& spec) {
  return spec.need_get_data ? "NEED_GET_DATA (-g)"
         : spec.shmem_zc    ? "shared-memory zero copy (--shmem_zc)"
                            : nullptr;
}

// Whether a device the kernel serves only in user copy or zero copy gets
// zero copy: asked (-z), or not asked and the kernel has it.
bool WantsZeroCopy(uint64_t kernel_features, const DeviceSpec& spec) {
  return AsksZeroCopy(spec.zero_copy) ||
         (spec.zero_copy == ZeroCopy::kBest && !spec.user_copy &&
          (kernel_features & abi::kFAutoBufReg));
}

// For a device the kernel serves only in zero copy or user copy: zero copy
// where WantsZeroCopy says so, else user copy; `extra` added to either.
Result<FlagChoice> ZeroCopyOrUserCopy(uint64_t kernel_features,
                                      const DeviceSpec& spec, uint64_t extra) {
  if (WantsZeroCopy(kernel_features, spec)) {
    auto c = ChooseFlags(kernel_features, DataAccess::kBuffer, spec.zero_copy);
    if (!c) return c.error();
    c->flags |= extra;
    return c;
  }
  return FlagChoice{abi::kFCmdIoctlEncode | abi::kFUserCopy | extra,
                    DataPath::kUserCopy};
}

}  // namespace

Result<FlagChoice> ChooseZonedFlags(uint64_t kernel_features,
                                    const DeviceSpec& spec,
                                    const std::string& what) {
  UBLK_RETURN_IF_ERROR(CheckCombination(spec));
  if (!(kernel_features & abi::kFZoned))
    return Invalid(what + ": serving it needs the ublk feature UBLK_F_ZONED "
                          "(Linux 6.6 or later), which this kernel lacks");
  // The kernel serves zoned devices in user copy or zero copy (the commit's
  // address field carries a zone append's sector): never plain copy.
  if (const char* other = DataPathBesideZeroOrUserCopy(spec))
    return Invalid(what + ": a zoned device is served by zero copy or user "
                          "copy, not " + other);
  // With batch commands the kernel (Linux 7.2) releases an automatically
  // registered buffer before it takes the zone append's sector from the
  // commit, which can complete the request at the zone's start: the data
  // then lies where the file system does not look. Explicit registration
  // (released by the server before the commit) and user copy are not
  // affected, so a batch device gets user copy unless asked otherwise.
  if (spec.batch == Batch::kOn) {
    if (spec.zero_copy == ZeroCopy::kAuto)
      return Invalid(what + ": zero copy by automatic registration (-z) "
                            "cannot be combined with --batch on a zoned "
                            "device (the kernel's batch commit loses a zone "
                            "append's sector); use --usercopy or "
                            "--zero-copy=explicit");
    if (spec.zero_copy == ZeroCopy::kBest) {
      DeviceSpec user = spec;
      user.zero_copy = ZeroCopy::kOff;
      return ChooseZonedFlags(kernel_features, user, what);
    }
  }
  if (!WantsZeroCopy(kernel_features, spec) &&
      !(kernel_features & abi::kFUserCopy))
    return Invalid(what + ": UBLK_F_ZONED is served with UBLK_F_USER_COPY, "
                          "which this kernel lacks");
  return ZeroCopyOrUserCopy(kernel_features, spec, abi::kFZoned);
}

Result<FlagChoice> ChooseIntegrityFlags(uint64_t kernel_features,
                                        const DeviceSpec& spec,
                                        const std::string& what) {
  UBLK_RETURN_IF_ERROR(CheckCombination(spec));
  if (!(kernel_features & abi::kFIntegrity))
    return Invalid(what + ": serving it needs the ublk feature "
                          "UBLK_F_INTEGRITY (Linux 7.0 or later), which this "
                          "kernel lacks");
  if (!(kernel_features & abi::kFUserCopy))
    return Invalid(what + ": UBLK_F_INTEGRITY needs UBLK_F_USER_COPY, which "
                          "this kernel lacks");
  // The integrity data always moves by user copy; the data by zero copy
  // where the kernel has it, as for any device, else by user copy too.
  if (const char* other = DataPathBesideZeroOrUserCopy(spec))
    return Invalid(what + ": its data moves by zero copy or user copy "
                          "(UBLK_F_INTEGRITY needs UBLK_F_USER_COPY), not " +
                   other);
  return ZeroCopyOrUserCopy(kernel_features, spec,
                            abi::kFUserCopy | abi::kFIntegrity);
}

Result<uint64_t> BatchFlags(uint64_t kernel_features, const DeviceSpec& spec) {
  switch (spec.batch) {
    case Batch::kOff:
    case Batch::kBest:
      break;
    case Batch::kOn:
      if (spec.need_get_data)
        return Invalid("batch commands (--batch) cannot be combined with "
                       "NEED_GET_DATA (-g): UBLK_F_BATCH_IO has no two-step "
                       "WRITE handoff");
      if (!(kernel_features & abi::kFBatchIo))
        return Invalid("batch commands (--batch) need the ublk feature "
                       "UBLK_F_BATCH_IO (Linux 7.0 or later), which this "
                       "kernel lacks");
      return abi::kFBatchIo;
  }
  // Not asked: the per-tag commands. Against them, batch measured ahead
  // only at high queue depth with one vCPU (loop 4k at iodepth 64: 1.11x
  // and 1.19x), level or behind with two (null 0.78-0.91x), and 0.84-0.91x
  // at iodepth 1 everywhere (README, performance); a device's queue depth
  // is not known when it is added.
  return uint64_t{0};
}

Result<FlagChoice> ChooseFlags(uint64_t kernel_features, DataAccess access,
                               ZeroCopy zero_copy) {
  FlagChoice c{abi::kFCmdIoctlEncode, DataPath::kCopy};
  if (access == DataAccess::kNone) {
    // Nothing to copy: -z asks for what user-copy mode already gives, but
    // is refused, as for every target, where the kernel has no zero copy.
    if (AsksZeroCopy(zero_copy) && !(kernel_features & abi::kFAutoBufReg))
      return Invalid(
          "zero copy (-z) needs the ublk feature AUTO_BUF_REG (automatic "
          "buffer registration, Linux 6.16 or later), which this kernel "
          "lacks");
    if (kernel_features & abi::kFUserCopy) {
      c.flags |= abi::kFUserCopy;
      c.data_path = DataPath::kNone;
    }
    return c;
  }
  if (access == DataAccess::kMemoryOrAutoBuf) {
    if (zero_copy == ZeroCopy::kExplicit)
      return Invalid(
          "--zero-copy=explicit is not for this target: its socket I/O "
          "needs a request's pages registered before the request arrives, "
          "which automatic registration does (-z, --zero-copy=auto)");
    // Copy mode unless asked: zero copy receives each reply header on
    // its own, which has not been measured to pay off for small requests.
    if (zero_copy != ZeroCopy::kAuto) return c;
  }
  // Registration as SUPPORT_ZERO_COPY means it arrived in 6.15; a 6.13-era
  // driver took that bit for user copy, and no feature bit marks 6.15 alone.
  // AUTO_BUF_REG (6.16) does, so it stands for both.
  const bool has_auto = kernel_features & abi::kFAutoBufReg;
  switch (zero_copy) {
    case ZeroCopy::kOff:
      return c;
    case ZeroCopy::kBest:
      if (!has_auto) return c;
      [[fallthrough]];
    case ZeroCopy::kAuto:
      if (!has_auto)
        return Invalid(
            "zero copy (-z) needs the ublk feature AUTO_BUF_REG (automatic "
            "buffer registration, Linux 6.16 or later), which this kernel "
            "lacks");
      // SUPPORT_ZERO_COPY too: with FALLBACK a request whose automatic
      // registration failed is registered by hand (REGISTER_IO_BUF).
      c.flags |= abi::kFSupportZeroCopy | abi::kFAutoBufReg;
      c.data_path = DataPath::kAutoBufReg;
      return c;
    case ZeroCopy::kExplicit:
      if (!has_auto || !(kernel_features & abi::kFSupportZeroCopy))
        return Invalid(
            "zero copy (--zero-copy=explicit) needs ublk buffer registration "
            "(REGISTER_IO_BUF with SUPPORT_ZERO_COPY, Linux 6.15; recognised "
            "by AUTO_BUF_REG, 6.16 or later), which this kernel lacks");
      c.flags |= abi::kFSupportZeroCopy;
      c.data_path = DataPath::kExplicitReg;
      return c;
  }
  return c;
}

}  // namespace ublk

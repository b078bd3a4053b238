// The data paths a spec may ask for beside zero copy (user copy, NEED_GET_DATA,
// shared-memory zero copy): which flags ADD_DEV asks for, which combinations
// and kernels are refused, how a recovered device finds its path again, and
// how the state file records them.
#include <gtest/gtest.h>

#include "feature_flags.h"
#include "recovery.h"
#include "spec_json.h"
#include "ublk/abi.h"

namespace ublk {
namespace {

constexpr uint64_t kKernel72 =
    abi::kFSupportZeroCopy | abi::kFNeedGetData | abi::kFUserCopy |
    abi::kFCmdIoctlEncode | abi::kFAutoBufReg | abi::kFUserRecovery;
constexpr uint64_t kKernelWithoutUserCopy =
    abi::kFNeedGetData | abi::kFCmdIoctlEncode | abi::kFUserRecovery;

DeviceSpec Spec(bool user_copy, bool get_data, ZeroCopy z = ZeroCopy::kBest) {
  DeviceSpec s;
  s.type = "loop";
  s.user_copy = user_copy;
  s.need_get_data = get_data;
  s.zero_copy = z;
  return s;
}

void ExpectOneLine(const Result<FlagChoice>& c, const std::string& needle) {
  ASSERT_FALSE(c.ok());
  const std::string m = c.error().message();
  EXPECT_NE(m.find(needle), std::string::npos) << m;
  EXPECT_EQ(m.find('\n'), std::string::npos) << m;
}

TEST(DataPathFlags, UserCopyAsksForUserCopyAndNoZeroCopy) {
  auto c = ChooseFlags(kKernel72, DataAccess::kBuffer, Spec(true, false));
  ASSERT_TRUE(c.ok()) << c.error().message();
  EXPECT_EQ(c->data_path, DataPath::kUserCopy);
  EXPECT_TRUE(c->flags & abi::kFUserCopy);
  EXPECT_FALSE(c->flags & (abi::kFSupportZeroCopy | abi::kFAutoBufReg |
                           abi::kFNeedGetData));
}

TEST(DataPathFlags, UserCopyKeepsADatalessTargetCopyFree) {
  auto c = ChooseFlags(kKernel72, DataAccess::kNone, Spec(true, false));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->data_path, DataPath::kNone);
  EXPECT_TRUE(c->flags & abi::kFUserCopy);
}

// nbd: copy mode unless zero copy is asked for, and then only by
// automatic registration (without the by-hand fallback it cannot serve);
// explicit registration and user copy are refused.
TEST(DataPathFlags, AMemoryOrAutoBufTargetRunsInCopyModeUnlessAsked) {
  const DataAccess a = DataAccess::kMemoryOrAutoBuf;
  auto c = ChooseFlags(kKernel72, a, Spec(false, false));
  ASSERT_TRUE(c.ok()) << c.error().message();
  EXPECT_EQ(c->data_path, DataPath::kCopy);
  EXPECT_FALSE(c->flags & (abi::kFUserCopy | abi::kFSupportZeroCopy |
                           abi::kFAutoBufReg));
  auto z = ChooseFlags(kKernel72, a, Spec(false, false, ZeroCopy::kAuto));
  ASSERT_TRUE(z.ok()) << z.error().message();
  EXPECT_EQ(z->data_path, DataPath::kAutoBufReg);
  EXPECT_TRUE(z->flags & abi::kFAutoBufReg);
  ExpectOneLine(ChooseFlags(kKernelWithoutUserCopy, a,
                            Spec(false, false, ZeroCopy::kAuto)),
                "AUTO_BUF_REG");
  ExpectOneLine(ChooseFlags(kKernel72, a, Spec(false, false, ZeroCopy::kExplicit)),
                "--zero-copy=explicit is not for this target");
  ExpectOneLine(ChooseFlags(kKernel72, a, Spec(true, false)), "user copy");
  auto g = ChooseFlags(kKernel72, a, Spec(false, true));
  ASSERT_TRUE(g.ok()) << g.error().message();
  EXPECT_EQ(g->data_path, DataPath::kGetData);
}

TEST(DataPathFlags, GetDataIsCopyModeInTwoSteps) {
  for (DataAccess a : {DataAccess::kBuffer, DataAccess::kNone}) {
    auto c = ChooseFlags(kKernel72, a, Spec(false, true));
    ASSERT_TRUE(c.ok()) << c.error().message();
    EXPECT_EQ(c->data_path, DataPath::kGetData);
    EXPECT_TRUE(c->flags & abi::kFNeedGetData);
    EXPECT_FALSE(c->flags & (abi::kFUserCopy | abi::kFSupportZeroCopy |
                             abi::kFAutoBufReg));
  }
  // -z off says the same thing as -g's copy mode.
  EXPECT_TRUE(ChooseFlags(kKernel72, DataAccess::kBuffer,
                          Spec(false, true, ZeroCopy::kOff))
                  .ok());
}

TEST(DataPathFlags, CombinationsAreRefusedInOneLine) {
  for (ZeroCopy z : {ZeroCopy::kAuto, ZeroCopy::kExplicit}) {
    ExpectOneLine(ChooseFlags(kKernel72, DataAccess::kBuffer, Spec(true, false, z)),
                  "user copy (--usercopy) and zero copy (-z) exclude each other");
    ExpectOneLine(ChooseFlags(kKernel72, DataAccess::kBuffer, Spec(false, true, z)),
                  "NEED_GET_DATA (-g) works only in copy mode");
  }
  ExpectOneLine(ChooseFlags(kKernel72, DataAccess::kBuffer, Spec(true, true)),
                "NEED_GET_DATA (-g) works only in copy mode");
  DeviceSpec s = Spec(false, true);
  s.shmem_zc = true;
  ExpectOneLine(ChooseFlags(kKernel72 | abi::kFShmemZc, DataAccess::kBuffer, s),
                "NEED_GET_DATA (-g) works only in copy mode");
  s = Spec(true, false);
  s.shmem_zc = true;
  ExpectOneLine(ChooseFlags(kKernel72 | abi::kFShmemZc, DataAccess::kBuffer, s),
                "--shmem_zc");
  s = Spec(false, false);
  s.shmem_file = "/dev/hugepages/f";
  ExpectOneLine(ChooseFlags(kKernel72, DataAccess::kBuffer, s),
                "needs --shmem_zc");
}

TEST(DataPathFlags, AKernelWithoutTheFeatureIsNamedWithItsVersion) {
  ExpectOneLine(
      ChooseFlags(kKernelWithoutUserCopy, DataAccess::kBuffer, Spec(true, false)),
      "UBLK_F_USER_COPY (Linux 6.5");
  ExpectOneLine(ChooseFlags(kKernelWithoutUserCopy, DataAccess::kNone,
                            Spec(true, false)),
                "UBLK_F_USER_COPY (Linux 6.5");
  ExpectOneLine(
      ChooseFlags(abi::kFCmdIoctlEncode, DataAccess::kBuffer, Spec(false, true)),
      "UBLK_F_NEED_GET_DATA (Linux 6.0");
  DeviceSpec s = Spec(false, false);
  s.shmem_zc = true;
  ExpectOneLine(ChooseFlags(kKernel72, DataAccess::kBuffer, s),
                "UBLK_F_SHMEM_ZC");
}

TEST(DataPathFlags, SharedMemoryZeroCopyIsCopyModeWithShmemZc) {
  DeviceSpec s = Spec(false, false);
  s.shmem_zc = true;
  s.shmem_file = "/dev/hugepages/f";
  for (DataAccess a : {DataAccess::kBuffer, DataAccess::kNone}) {
    auto c = ChooseFlags(kKernel72 | abi::kFShmemZc, a, s);
    ASSERT_TRUE(c.ok()) << c.error().message();
    EXPECT_EQ(c->data_path, DataPath::kCopy);
    EXPECT_EQ(c->flags, abi::kFCmdIoctlEncode | abi::kFShmemZc);
  }
  // Without --htlb: the memory has no other source here.
  s.shmem_file.clear();
  ExpectOneLine(ChooseFlags(kKernel72 | abi::kFShmemZc, DataAccess::kBuffer, s),
                "--shmem_zc) needs --htlb PATH");
  // Nor with recovery.
  s.shmem_file = "/dev/hugepages/f";
  s.recovery = Recovery::kFailInflight;
  ExpectOneLine(ChooseFlags(kKernel72 | abi::kFShmemZc, DataAccess::kBuffer, s),
                "recovery (-r)");
}

TEST(DataPathFlags, ShmemZcAddressSplitsIntoIndexAndOffset) {
  static_assert(abi::kCmdRegBuf == 0xC0207518);
  static_assert(abi::kCmdUnregBuf == 0xC0207519);
  const uint64_t addr = (uint64_t{3} << 32) | 0x12345000u;
  EXPECT_EQ(abi::ShmemZcIndex(addr), 3);
  EXPECT_EQ(abi::ShmemZcOffset(addr), 0x12345000u);
  EXPECT_EQ(offsetof(abi::ShmemBufReg, len), 8u);
  EXPECT_EQ(offsetof(abi::ShmemBufReg, flags), 16u);
}

TEST(DataPathFlags, NothingAskedIsTheZeroCopyChoiceAsBefore) {
  auto c = ChooseFlags(kKernel72, DataAccess::kBuffer, Spec(false, false));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->data_path, DataPath::kAutoBufReg);
  c = ChooseFlags(kKernel72, DataAccess::kBuffer,
                  Spec(false, false, ZeroCopy::kOff));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->data_path, DataPath::kCopy);
}

TEST(DataPathFlags, ARecoveredDeviceKeepsUserCopyAndGetData) {
  EXPECT_EQ(DataPathOfDevice(abi::kFUserCopy | abi::kFUserRecovery,
                             DataAccess::kBuffer),
            DataPath::kUserCopy);
  EXPECT_EQ(DataPathOfDevice(abi::kFNeedGetData | abi::kFUserRecovery,
                             DataAccess::kBuffer),
            DataPath::kGetData);
  EXPECT_EQ(DataPathOfDevice(abi::kFNeedGetData, DataAccess::kNone),
            DataPath::kCopy);
}

TEST(DataPathFlags, NamesAndBuffers) {
  EXPECT_STREQ(DataPathName(DataPath::kUserCopy), "user-copy");
  EXPECT_STREQ(DataPathName(DataPath::kGetData), "copy/get-data");
  EXPECT_TRUE(IsDataPathName("user-copy"));
  EXPECT_TRUE(IsDataPathName("zero-copy/explicit"));
  EXPECT_FALSE(IsDataPathName("user copy"));
  EXPECT_TRUE(HasTagBuffers(DataPath::kUserCopy));
  EXPECT_FALSE(KernelCopies(DataPath::kUserCopy));
  EXPECT_TRUE(KernelCopies(DataPath::kGetData));
  EXPECT_FALSE(HasTagBuffers(DataPath::kAutoBufReg));
}

TEST(DataPathFlags, SpecJsonRecordsTheFieldsAndOldFilesReadWithout) {
  DeviceSpec s = Spec(true, false);
  s.file = "/tmp/x";
  s.shmem_zc = true;
  s.shmem_file = "/dev/hugepages/f";
  auto back = SpecFromJson(SpecToJson(s));
  ASSERT_TRUE(back.ok()) << back.error().message();
  EXPECT_EQ(*back, s);
  s = Spec(false, true);
  s.file = "/tmp/x";
  back = SpecFromJson(SpecToJson(s));
  ASSERT_TRUE(back.ok()) << back.error().message();
  EXPECT_EQ(*back, s);
  // A spec from before these fields: none of them set, none written.
  s = Spec(false, false);
  s.file = "/tmp/x";
  auto j = SpecToJson(s);
  EXPECT_FALSE(j.contains("user_copy"));
  EXPECT_FALSE(j.contains("need_get_data"));
  EXPECT_FALSE(j.contains("shmem_zc"));
  back = SpecFromJson(j);
  ASSERT_TRUE(back.ok());
  EXPECT_FALSE(back->user_copy || back->need_get_data || back->shmem_zc);
  j["user_copy"] = "yes";
  EXPECT_FALSE(SpecFromJson(j).ok());
}

// A namespace with metadata: INTEGRITY with USER_COPY always (the integrity
// data moves by user copy), the data by zero copy where the kernel has it
// and nothing else is asked, else by user copy.
TEST(DataPathFlags, IntegrityTakesZeroCopyForDataOrUserCopy) {
  const std::string what = "/dev/ng0n1 has 8 bytes of metadata per block";
  const uint64_t k = kKernel72 | abi::kFIntegrity;
  const uint64_t base = abi::kFCmdIoctlEncode | abi::kFUserCopy | abi::kFIntegrity;
  auto best = ChooseIntegrityFlags(k, Spec(false, false), what);
  ASSERT_TRUE(best.ok()) << best.error().message();
  EXPECT_EQ(best->data_path, DataPath::kAutoBufReg);
  EXPECT_EQ(best->flags, base | abi::kFSupportZeroCopy | abi::kFAutoBufReg);
  auto expl = ChooseIntegrityFlags(k, Spec(false, false, ZeroCopy::kExplicit), what);
  ASSERT_TRUE(expl.ok()) << expl.error().message();
  EXPECT_EQ(expl->data_path, DataPath::kExplicitReg);
  EXPECT_EQ(expl->flags, base | abi::kFSupportZeroCopy);
  for (const DeviceSpec& s :
       {Spec(true, false), Spec(false, false, ZeroCopy::kOff)}) {
    auto c = ChooseIntegrityFlags(k, s, what);
    ASSERT_TRUE(c.ok()) << c.error().message();
    EXPECT_EQ(c->data_path, DataPath::kUserCopy);
    EXPECT_EQ(c->flags, base);
  }
}

TEST(DataPathFlags, IntegrityRefusesOtherDataPathsAndOldKernels) {
  const std::string what = "/dev/ng0n1 has 8 bytes of metadata per block";
  const uint64_t k70 = kKernel72 | abi::kFIntegrity | abi::kFShmemZc;
  ExpectOneLine(ChooseIntegrityFlags(kKernel72, Spec(false, false), what),
                "UBLK_F_INTEGRITY (Linux 7.0 or later)");
  ExpectOneLine(ChooseIntegrityFlags(kKernel72, Spec(false, false), what),
                what);
  ExpectOneLine(ChooseIntegrityFlags(k70 & ~abi::kFUserCopy,
                                     Spec(false, false), what),
                "UBLK_F_USER_COPY");
  ExpectOneLine(ChooseIntegrityFlags(k70 & ~abi::kFAutoBufReg,
                                     Spec(false, false, ZeroCopy::kAuto), what),
                "AUTO_BUF_REG");
  ExpectOneLine(ChooseIntegrityFlags(k70, Spec(false, true), what),
                "not NEED_GET_DATA (-g)");
  DeviceSpec s = Spec(false, false);
  s.shmem_zc = true;
  s.shmem_file = "/dev/hugepages/x";
  ExpectOneLine(ChooseIntegrityFlags(k70, s, what), "--shmem_zc");
}

}  // namespace
}  // namespace ublk

namespace ublk {
namespace {

// A zoned namespace: ZONED with zero copy where the kernel has it, as any
// device; with user copy when asked or where it has not; plain copy, -g and
// a kernel without ZONED refused in one line.
TEST(DataPathFlags, ZonedTakesZeroCopyOrUserCopyAndRefusesTheRest) {
  const std::string what = "/dev/ng3n1 is a zoned namespace";
  const uint64_t k = kKernel72 | abi::kFZoned;
  auto best = ChooseZonedFlags(k, Spec(false, false, ZeroCopy::kBest), what);
  ASSERT_TRUE(best.ok()) << best.error().message();
  EXPECT_EQ(best->data_path, DataPath::kAutoBufReg);
  EXPECT_EQ(best->flags, abi::kFCmdIoctlEncode | abi::kFSupportZeroCopy |
                             abi::kFAutoBufReg | abi::kFZoned);
  auto expl = ChooseZonedFlags(k, Spec(false, false, ZeroCopy::kExplicit), what);
  ASSERT_TRUE(expl.ok()) << expl.error().message();
  EXPECT_EQ(expl->data_path, DataPath::kExplicitReg);
  for (const DeviceSpec& s :
       {Spec(true, false), Spec(false, false, ZeroCopy::kOff)}) {
    auto c = ChooseZonedFlags(k, s, what);
    ASSERT_TRUE(c.ok()) << c.error().message();
    EXPECT_EQ(c->data_path, DataPath::kUserCopy);
    EXPECT_EQ(c->flags, abi::kFCmdIoctlEncode | abi::kFUserCopy | abi::kFZoned);
  }
  // A kernel without zero copy (6.12): user copy unless -z is asked.
  const uint64_t old = k & ~(abi::kFAutoBufReg | abi::kFSupportZeroCopy);
  auto c612 = ChooseZonedFlags(old, Spec(false, false), what);
  ASSERT_TRUE(c612.ok()) << c612.error().message();
  EXPECT_EQ(c612->data_path, DataPath::kUserCopy);
  ExpectOneLine(ChooseZonedFlags(old, Spec(false, false, ZeroCopy::kAuto), what),
                "AUTO_BUF_REG");
  ExpectOneLine(ChooseZonedFlags(k & ~abi::kFZoned, Spec(false, false), what),
                "UBLK_F_ZONED");
  ExpectOneLine(ChooseZonedFlags(old & ~abi::kFUserCopy, Spec(false, false), what),
                "UBLK_F_USER_COPY");
  ExpectOneLine(ChooseZonedFlags(k, Spec(false, true), what),
                "not NEED_GET_DATA (-g)");
}

// With batch commands a zoned device is not given automatic registration
// (the kernel's batch commit loses a zone append's sector with it): user
// copy by default, explicit registration when asked, -z refused.
TEST(DataPathFlags, ZonedWithBatchCommandsAvoidsAutomaticRegistration) {
  const std::string what = "/dev/ng3n1 is a zoned namespace";
  const uint64_t k = kKernel72 | abi::kFZoned | abi::kFBatchIo;
  auto batch = [](ZeroCopy z, bool user_copy = false) {
    DeviceSpec s = Spec(user_copy, false, z);
    s.batch = Batch::kOn;
    return s;
  };
  auto best = ChooseZonedFlags(k, batch(ZeroCopy::kBest), what);
  ASSERT_TRUE(best.ok()) << best.error().message();
  EXPECT_EQ(best->data_path, DataPath::kUserCopy);
  EXPECT_EQ(best->flags, abi::kFCmdIoctlEncode | abi::kFUserCopy | abi::kFZoned);
  auto user = ChooseZonedFlags(k, batch(ZeroCopy::kBest, true), what);
  ASSERT_TRUE(user.ok()) << user.error().message();
  EXPECT_EQ(user->data_path, DataPath::kUserCopy);
  auto expl = ChooseZonedFlags(k, batch(ZeroCopy::kExplicit), what);
  ASSERT_TRUE(expl.ok()) << expl.error().message();
  EXPECT_EQ(expl->data_path, DataPath::kExplicitReg);
  ExpectOneLine(ChooseZonedFlags(k, batch(ZeroCopy::kAuto), what),
                "cannot be combined with --batch");
  // Batch off or not asked: zero copy as before.
  DeviceSpec off = Spec(false, false);
  off.batch = Batch::kOff;
  auto plain = ChooseZonedFlags(k, off, what);
  ASSERT_TRUE(plain.ok()) << plain.error().message();
  EXPECT_EQ(plain->data_path, DataPath::kAutoBufReg);
}

}  // namespace
}  // namespace ublk

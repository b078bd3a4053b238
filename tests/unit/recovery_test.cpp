// User recovery without a kernel: which flags a mode asks for, what an
// existing device's flags mean, and when a state file may take a device over.
#include "recovery.h"

#include <gtest/gtest.h>

#include "ctrl_cmd.h"
#include "options.h"
#include "spec_json.h"

namespace ublk {
namespace {

constexpr uint64_t k612 = abi::kFUserRecovery | abi::kFUserRecoveryReissue |
                          abi::kFCmdIoctlEncode | abi::kFUserCopy |
                          abi::kFUnprivilegedDev;
constexpr uint64_t k72 = k612 | abi::kFUserRecoveryFailIo |
                         abi::kFSupportZeroCopy | abi::kFAutoBufReg;

TEST(RecoveryFlags, OffAsksForNothing) {
  auto f = RecoveryFlags(k72, Recovery::kOff);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(*f, 0u);
}

TEST(RecoveryFlags, ReissueAsksForRecoveryAndReissue) {
  auto f = RecoveryFlags(k612, Recovery::kReissue);
  ASSERT_TRUE(f.ok()) << f.error().message();
  EXPECT_EQ(*f, abi::kFUserRecovery | abi::kFUserRecoveryReissue);
}

TEST(RecoveryFlags, FailIoAsksForRecoveryAndFailIoWhereTheKernelHasIt) {
  auto f = RecoveryFlags(k72, Recovery::kFailIo);
  ASSERT_TRUE(f.ok()) << f.error().message();
  EXPECT_EQ(*f, abi::kFUserRecovery | abi::kFUserRecoveryFailIo);
}

TEST(RecoveryFlags, FailIoOn612IsRefusedNamingTheFeatureAndVersion) {
  auto f = RecoveryFlags(k612, Recovery::kFailIo);
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.error().message().find("USER_RECOVERY_FAIL_IO"), std::string::npos);
  EXPECT_NE(f.error().message().find("6.13"), std::string::npos);
}

TEST(RecoveryFlags, ReissueWithoutRecoveryInTheKernelIsRefused) {
  auto f = RecoveryFlags(abi::kFCmdIoctlEncode, Recovery::kReissue);
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.error().message().find("USER_RECOVERY"), std::string::npos);
}

TEST(RecoveryOfDevice, ReadsTheModeBackFromTheDeviceFlags) {
  EXPECT_EQ(RecoveryOfDevice(abi::kFUserCopy), Recovery::kOff);
  EXPECT_EQ(RecoveryOfDevice(abi::kFUserRecovery | abi::kFUserRecoveryReissue),
            Recovery::kReissue);
  EXPECT_EQ(RecoveryOfDevice(abi::kFUserRecovery | abi::kFUserRecoveryFailIo),
            Recovery::kFailIo);
}

TEST(DataPathOfDevice, TheNewServerUsesTheDataPathTheDeviceWasMadeWith) {
  EXPECT_EQ(DataPathOfDevice(abi::kFSupportZeroCopy | abi::kFAutoBufReg,
                             DataAccess::kBuffer),
            DataPath::kAutoBufReg);
  EXPECT_EQ(DataPathOfDevice(abi::kFSupportZeroCopy, DataAccess::kBuffer),
            DataPath::kExplicitReg);
  EXPECT_EQ(DataPathOfDevice(abi::kFUserRecovery, DataAccess::kBuffer),
            DataPath::kCopy);
  EXPECT_EQ(DataPathOfDevice(abi::kFUserCopy, DataAccess::kNone),
            DataPath::kNone);
  EXPECT_EQ(DataPathOfDevice(0, DataAccess::kNone), DataPath::kCopy);
}

struct Pair {
  DeviceState state;
  abi::DevInfo info{};
};

Pair Matching() {
  Pair p;
  p.state.dev_id = 3;
  p.state.queues = 2;
  p.state.depth = 128;
  p.state.flags = abi::kFUserRecovery | abi::kFUserRecoveryReissue |
                  abi::kFCmdIoctlEncode;
  p.info.dev_id = 3;
  p.info.nr_hw_queues = 2;
  p.info.queue_depth = 128;
  p.info.flags = p.state.flags;
  p.info.state = abi::kStateQuiesced;
  return p;
}

std::string Verdict(const Pair& p) {
  auto r = CheckRecoverable(p.state, p.info);
  return r.ok() ? "" : r.error().message();
}

TEST(CheckRecoverable, AcceptsAQuiescedOrFailIoDeviceMatchingItsStateFile) {
  Pair p = Matching();
  EXPECT_EQ(Verdict(p), "");
  p.info.state = abi::kStateFailIo;
  EXPECT_EQ(Verdict(p), "");
}

TEST(CheckRecoverable, RefusesALiveOrDeadDevice) {
  Pair p = Matching();
  p.info.state = abi::kStateLive;
  EXPECT_NE(Verdict(p).find("not waiting for a server (state LIVE)"),
            std::string::npos);
  p.info.state = abi::kStateDead;
  EXPECT_NE(Verdict(p).find("state DEAD"), std::string::npos);
}

TEST(CheckRecoverable, RefusesADeviceMadeWithoutRecovery) {
  Pair p = Matching();
  p.info.flags &= ~abi::kFUserRecovery;
  EXPECT_NE(Verdict(p).find("not created with recovery"), std::string::npos);
}

TEST(CheckRecoverable, RefusesAStateFileWithOtherQueuesOrDepth) {
  Pair p = Matching();
  p.state.depth = 64;
  EXPECT_NE(Verdict(p).find("does not match"), std::string::npos);
  p = Matching();
  p.state.queues = 1;
  EXPECT_NE(Verdict(p).find("does not match"), std::string::npos);
}

TEST(CheckRecoverable, RefusesAStateFileWithOtherFeaturesNamingThem) {
  Pair p = Matching();
  p.state.flags |= abi::kFAutoBufReg;
  EXPECT_NE(Verdict(p).find("AUTO_BUF_REG"), std::string::npos);
}

TEST(CheckRecoverable, RefusesAStateFileOfAnotherDevice) {
  Pair p = Matching();
  p.state.dev_id = 4;
  EXPECT_NE(Verdict(p).find("describes device 4"), std::string::npos);
}

TEST(CtrlCmd, UserRecoveryCommandsNameTheDeviceAndTheNewServer) {
  CtrlRequest start = MakeStartUserRecovery(5);
  EXPECT_EQ(start.op, abi::kCmdStartUserRecovery);
  EXPECT_EQ(start.op, 0xC0207510u);
  EXPECT_EQ(start.cmd.dev_id, 5u);
  EXPECT_EQ(start.cmd.queue_id, abi::kNoQueue);
  CtrlRequest end = MakeEndUserRecovery(5, 4242);
  EXPECT_EQ(end.op, 0xC0207511u);
  EXPECT_EQ(end.cmd.dev_id, 5u);
  EXPECT_EQ(end.cmd.data[0], 4242u);
}

TEST(Options, RecoveryFlagAloneMeansReissue) {
  auto r = ParseCommandLine({"add", "-t", "null", "-r"});
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(std::get<AddCommand>(*r).spec.recovery, Recovery::kReissue);
  r = ParseCommandLine({"add", "-t", "null", "--recovery"});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(std::get<AddCommand>(*r).spec.recovery, Recovery::kReissue);
  r = ParseCommandLine({"add", "-t", "null"});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(std::get<AddCommand>(*r).spec.recovery, Recovery::kOff);
}

TEST(Options, RecoveryModeSelectsFailIoAndImpliesRecovery) {
  auto r = ParseCommandLine({"add", "-t", "null", "--recovery-mode", "fail-io"});
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(std::get<AddCommand>(*r).spec.recovery, Recovery::kFailIo);
  r = ParseCommandLine({"add", "-t", "null", "--recovery-mode=fail-io", "-r"});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(std::get<AddCommand>(*r).spec.recovery, Recovery::kFailIo);
}

TEST(Options, BadRecoveryModeIsOneLineNamingTheChoices) {
  auto r = ParseCommandLine({"add", "-t", "null", "--recovery-mode", "retry"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(),
            "--recovery-mode retry: must be reissue, fail-io or fail-inflight");
}

TEST(Options, RecoverNeedsAnId) {
  auto r = ParseCommandLine({"recover", "-n", "4", "--json"});
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(std::get<RecoverCommand>(*r).id, 4u);
  EXPECT_TRUE(std::get<RecoverCommand>(*r).json);
  r = ParseCommandLine({"recover"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), "recover: -n ID is required");
}

TEST(Options, HelpTeachesRecovery) {
  EXPECT_NE(HelpText("add").find("--recovery-mode"), std::string::npos);
  EXPECT_NE(HelpText("recover").find("ublk recover -n ID"), std::string::npos);
}

TEST(SpecJson, RecoveryModeRoundTripsAndOldFilesMeanOff) {
  DeviceSpec s;
  s.type = "loop";
  s.file = "/img";
  s.recovery = Recovery::kFailIo;
  auto back = SpecFromJson(SpecToJson(s));
  ASSERT_TRUE(back.ok()) << back.error().message();
  EXPECT_EQ(back->recovery, Recovery::kFailIo);
  auto old = SpecFromJson(nlohmann::json{{"type", "null"}});
  ASSERT_TRUE(old.ok());
  EXPECT_EQ(old->recovery, Recovery::kOff);
  auto bad = SpecFromJson(nlohmann::json{{"type", "null"}, {"recovery", "x"}});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message().find("recovery"), std::string::npos);
}

TEST(CheckRecoveryDataPath, RefusesExplicitRegistrationWithRecovery) {
  EXPECT_FALSE(CheckRecoveryDataPath(Recovery::kReissue, ZeroCopy::kExplicit));
  EXPECT_FALSE(CheckRecoveryDataPath(Recovery::kFailIo, ZeroCopy::kExplicit));
  auto e = CheckRecoveryDataPath(Recovery::kReissue, ZeroCopy::kExplicit);
  EXPECT_NE(e.error().message().find("--zero-copy=explicit"), std::string::npos);
}

TEST(CheckRecoveryDataPath, AllowsEveryOtherCombination) {
  for (ZeroCopy z : {ZeroCopy::kBest, ZeroCopy::kAuto, ZeroCopy::kOff})
    for (Recovery r : {Recovery::kOff, Recovery::kReissue, Recovery::kFailIo})
      EXPECT_TRUE(CheckRecoveryDataPath(r, z));
  EXPECT_TRUE(CheckRecoveryDataPath(Recovery::kOff, ZeroCopy::kExplicit));
}

TEST(HandOverWayOf, QuiescesWhereItCanElseLeavesOnlyInReissueMode) {
  const uint64_t rec = abi::kFUserRecovery;
  const uint64_t reissue = rec | abi::kFUserRecoveryReissue;
  const uint64_t fail_io = rec | abi::kFUserRecoveryFailIo;
  EXPECT_EQ(HandOverWayOf(abi::kFQuiesce), HandOverWay::kNone);
  EXPECT_EQ(HandOverWayOf(rec | abi::kFQuiesce), HandOverWay::kQuiesce);
  EXPECT_EQ(HandOverWayOf(fail_io | abi::kFQuiesce), HandOverWay::kQuiesce);
  EXPECT_EQ(HandOverWayOf(reissue | abi::kFQuiesce), HandOverWay::kQuiesce);
  // No QUIESCE (6.12), or batch commands (QUIESCE_DEV fails new I/O).
  EXPECT_EQ(HandOverWayOf(reissue), HandOverWay::kLeaveAsCrash);
  EXPECT_EQ(HandOverWayOf(reissue | abi::kFQuiesce | abi::kFBatchIo),
            HandOverWay::kLeaveAsCrash);
  EXPECT_EQ(HandOverWayOf(fail_io), HandOverWay::kNone);
  EXPECT_EQ(HandOverWayOf(fail_io | abi::kFQuiesce | abi::kFBatchIo),
            HandOverWay::kNone);
  EXPECT_NE(WhyNoHandOver(fail_io | abi::kFBatchIo).find("batch commands"),
            std::string::npos);
  EXPECT_NE(WhyNoHandOver(fail_io).find("QUIESCE_DEV"), std::string::npos);
  EXPECT_NE(WhyNoHandOver(0).find("without recovery"), std::string::npos);
}

}  // namespace
}  // namespace ublk

// Unprivileged devices without a kernel: which state directory belongs to
// whom and when its files are trusted, and what an unprivileged device is
// refused before anything is sent.
#include "unprivileged.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "feature_flags.h"
#include "state_file.h"

namespace ublk {
namespace {

class StateDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ublk-unpriv-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    top_ = tmpl;
    base_ = top_ + "/run";
    ASSERT_EQ(::setenv("UBLK_STATE_DIR", base_.c_str(), 1), 0);
  }
  void TearDown() override {
    ::unsetenv("UBLK_STATE_DIR");
    ASSERT_EQ(system(("rm -rf " + top_).c_str()), 0);
  }
  void WriteFile(const std::string& path, const std::string& text) {
    std::ofstream(path) << text;
  }
  std::string top_, base_;
};

TEST_F(StateDirTest, RootUsesTheBaseAndEveryOtherUserAFolderNamedByUid) {
  EXPECT_EQ(StateDirOf(0), base_);
  EXPECT_EQ(StateDirOf(1001), base_ + "/1001");
  EXPECT_EQ(StateDir(), StateDirOf(::geteuid()));
}

TEST_F(StateDirTest, AMissingDeviceNodeMeansTheCallersOwnDirectory) {
  // No /dev/ublkc4000000000 on any machine.
  EXPECT_EQ(DeviceOwner(4000000000u), ::geteuid());
  EXPECT_EQ(DeviceStateDir(4000000000u), StateDir());
}

TEST_F(StateDirTest, ADirectoryOwnedBySomeoneElseIsNotTrusted) {
  ASSERT_TRUE(PrepareStateDir(base_).ok());
  EXPECT_TRUE(CheckStateDir(base_, ::geteuid()).ok());
  auto r = CheckStateDir(base_, ::geteuid() + 1);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("owned by uid"), std::string::npos)
      << r.error().message();
}

// Root reading a user's state: the file must be that user's, whoever wrote
// a file in the directory.
TEST_F(StateDirTest, AStateFileIsReadOnlyForTheOwnerItShouldHave) {
  ASSERT_TRUE(PrepareStateDir(base_).ok());
  DeviceState st;
  st.spec.type = "null";
  st.dev_id = 3;
  st.pid = 42;
  st.data_path = "copy";
  st.queues = 1;
  st.depth = 16;
  ASSERT_TRUE(WriteState(base_, st).ok());
  EXPECT_TRUE(ReadState(base_, 3, ::geteuid()).ok());
  auto other = ReadState(base_, 3, ::geteuid() + 1);
  ASSERT_FALSE(other.ok());
  EXPECT_NE(other.error().message().find("not trusted"), std::string::npos)
      << other.error().message();
}

TEST_F(StateDirTest, RootMakesAUsersDirectoryTheirsWithMode0700) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (chown)";
  ASSERT_TRUE(PrepareUserStateDir(54321, 54322).ok());
  struct stat st {};
  ASSERT_EQ(::lstat((base_ + "/54321").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 54321u);
  EXPECT_EQ(st.st_gid, 54322u);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  // Again: the existing one passes.
  EXPECT_TRUE(PrepareUserStateDir(54321, 54322).ok());
}

TEST_F(StateDirTest, ASymlinkInPlaceOfAUsersDirectoryIsRefused) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (chown)";
  ASSERT_TRUE(PrepareStateDir(base_).ok());
  ASSERT_EQ(::symlink("/etc", (base_ + "/54321").c_str()), 0);
  auto r = PrepareUserStateDir(54321, 54321);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("symlink"), std::string::npos)
      << r.error().message();
}

TEST_F(StateDirTest, AUsersDirectoryOwnedByAnotherIsRefused) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (chown)";
  ASSERT_TRUE(PrepareStateDir(base_).ok());
  ASSERT_EQ(::mkdir((base_ + "/54321").c_str(), 0700), 0);
  auto r = PrepareUserStateDir(54321, 54321);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("owned by uid 0"), std::string::npos)
      << r.error().message();
}

constexpr uint64_t kAll = abi::kFUnprivilegedDev | abi::kFUserCopy |
                          abi::kFSupportZeroCopy | abi::kFAutoBufReg |
                          abi::kFUserRecovery | abi::kFUserRecoveryReissue |
                          abi::kFCmdIoctlEncode;

TEST(Unprivileged, FeaturesLoseWhatTheKernelRefusesOrDrops) {
  EXPECT_EQ(UnprivilegedFeatures(kAll),
            abi::kFUnprivilegedDev | abi::kFCmdIoctlEncode);
}

TEST(Unprivileged, ZeroCopyUserCopyAndRecoveryAreRefusedSayingWhy) {
  DeviceSpec z;
  z.zero_copy = ZeroCopy::kAuto;
  DeviceSpec u;
  u.user_copy = true;
  DeviceSpec r;
  r.recovery = Recovery::kReissue;
  for (const DeviceSpec& s : {z, u, r}) {
    auto c = CheckUnprivilegedSpec(kAll, s, false);
    ASSERT_FALSE(c.ok());
    EXPECT_NE(c.error().message().find("root"), std::string::npos)
        << c.error().message();
  }
  EXPECT_TRUE(CheckUnprivilegedSpec(kAll, DeviceSpec{}, false).ok());
}

TEST(Unprivileged, AKernelWithoutUnprivilegedDevicesIsNamed) {
  auto c = CheckUnprivilegedSpec(kAll & ~abi::kFUnprivilegedDev, DeviceSpec{},
                                 false);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message().find("UBLK_F_UNPRIVILEGED_DEV"),
            std::string::npos);
}

// 0 when the refusal holds: -f /etc/shadow is refused naming the reason,
// and the same path as an address (nbd) is no file to check.
int RefusesAFileItCannotOpen() {
  DeviceSpec s;
  s.file = "/etc/shadow";
  auto c = CheckUnprivilegedSpec(kAll, s, true);
  if (c.ok() || c.error().message().find("cannot open") == std::string::npos)
    return 1;
  return CheckUnprivilegedSpec(kAll, s, false).ok() ? 0 : 2;
}

TEST(Unprivileged, AFileTheUserCannotOpenIsRefused) {
  if (::geteuid() != 0) {
    EXPECT_EQ(RefusesAFileItCannotOpen(), 0);
    return;
  }
  // Root opens every file: check as nobody, in a child.
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (::setresgid(65534, 65534, 65534) != 0 ||
        ::setresuid(65534, 65534, 65534) != 0)
      ::_exit(3);
    ::_exit(RefusesAFileItCannotOpen());
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

// The null target would take user copy where the kernel has it; an
// unprivileged device gets plain copy instead.
TEST(Unprivileged, ANullDeviceRunsInCopyModeWithoutUserCopy) {
  auto c = ChooseFlags(UnprivilegedFeatures(kAll), DataAccess::kNone,
                       DeviceSpec{});
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->flags & kUnprivilegedRefused, 0u);
  auto loop = ChooseFlags(UnprivilegedFeatures(kAll), DataAccess::kBuffer,
                          DeviceSpec{});
  ASSERT_TRUE(loop.ok());
  EXPECT_EQ(loop->flags & kUnprivilegedRefused, 0u);
}

TEST(Unprivileged, AZonedDeviceNeedingZeroOrUserCopyIsRefused) {
  auto c = CheckUnprivilegedFlags(abi::kFZoned | abi::kFUserCopy,
                                  "/dev/ng1n1 is a zoned namespace");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message().find("/dev/ng1n1"), std::string::npos);
  EXPECT_TRUE(CheckUnprivilegedFlags(abi::kFCmdIoctlEncode, "x").ok());
}

}  // namespace
}  // namespace ublk

namespace ublk {
namespace {

TEST(Unprivileged, DepthFitsHalfTheLockedMemoryLimit) {
  constexpr uint32_t k512K = 512u << 10;
  constexpr uint64_t k8M = 8u << 20;
  // 128 x 512 KiB = 64 MiB; half of 8 MiB holds 8 such buffers.
  EXPECT_EQ(DepthWithinMemlock(128, 1, k512K, k8M), 8);
  EXPECT_EQ(DepthWithinMemlock(128, 2, k512K, k8M), 4);
  EXPECT_EQ(DepthWithinMemlock(4, 1, k512K, k8M), 4);  // fits already
  EXPECT_EQ(DepthWithinMemlock(128, 1, k512K, RLIM_INFINITY), 128);
  EXPECT_EQ(DepthWithinMemlock(128, 4, k512K, 1u << 20), 1);  // at least 1
}

}  // namespace
}  // namespace ublk

// The wait helper: each wait wakes at its event (a path created or removed
// by someone else, a process that exits) and gives up at its timeout.
#include "wait.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>

namespace ublk {
namespace {

using Clock = std::chrono::steady_clock;

class WaitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ublk-wait-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::string cmd = "rm -rf " + dir_;
    ASSERT_EQ(system(cmd.c_str()), 0);
  }
  std::string dir_;
};

TEST_F(WaitTest, PathCreatedLaterByAnotherThreadEndsTheWait) {
  const std::string path = dir_ + "/node";
  std::thread creator([&] {
    std::this_thread::sleep_for(Millis(100));
    std::ofstream(path) << "x";
  });
  const auto start = Clock::now();
  auto r = WaitForPath(path, Millis(10000));
  creator.join();
  EXPECT_TRUE(r.ok()) << r.error().message();
  // Woken by the creation, not by the timeout.
  EXPECT_LT(Clock::now() - start, Millis(5000));
}

// As udev gives an unprivileged device's node to its owner.
TEST_F(WaitTest, NodeGivenToTheUserLaterEndsTheWaitForItsOwner) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (chown)";
  const std::string path = dir_ + "/node";
  std::ofstream(path) << "x";
  std::thread giver([&] {
    std::this_thread::sleep_for(Millis(100));
    ASSERT_EQ(::chown(path.c_str(), 4242, 4242), 0);
  });
  const auto start = Clock::now();
  auto r = WaitForOwner(path, 4242, Millis(10000));
  giver.join();
  EXPECT_TRUE(r.ok()) << r.error().message();
  EXPECT_LT(Clock::now() - start, Millis(5000));
}

TEST_F(WaitTest, NodeThatStaysRootsTimesOutNamingTheUdevRule) {
  const std::string path = dir_ + "/node";
  std::ofstream(path) << "x";
  auto r = WaitForOwner(path, ::geteuid() + 1, Millis(100));
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(TimedOut(r.error()));
  EXPECT_NE(r.error().message().find("udev rule"), std::string::npos)
      << r.error().message();
}

TEST_F(WaitTest, ExistingPathReturnsAtOnce) {
  const std::string path = dir_ + "/node";
  std::ofstream(path) << "x";
  EXPECT_TRUE(WaitForPath(path, Millis(0)).ok());
}

TEST_F(WaitTest, PathThatNeverAppearsTimesOutNamingIt) {
  const std::string path = dir_ + "/never";
  const auto start = Clock::now();
  auto r = WaitForPath(path, Millis(200));
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(TimedOut(r.error()));
  EXPECT_NE(r.error().message().find(path), std::string::npos);
  EXPECT_GE(Clock::now() - start, Millis(200));
}

TEST_F(WaitTest, PathInAMissingFolderIsAnErrorNotATimeout) {
  auto r = WaitForPath(dir_ + "/no/such/node", Millis(100));
  ASSERT_FALSE(r.ok());
  EXPECT_FALSE(TimedOut(r.error()));
}

TEST_F(WaitTest, PathRemovedLaterByAnotherThreadEndsTheWaitForItToGo) {
  const std::string path = dir_ + "/node";
  std::ofstream(path) << "x";
  std::thread remover([&] {
    std::this_thread::sleep_for(Millis(100));
    ::unlink(path.c_str());
  });
  auto r = WaitForPathGone(path, Millis(10000));
  remover.join();
  EXPECT_TRUE(r.ok()) << r.error().message();
}

TEST_F(WaitTest, PathThatStaysTimesOutWaitingForItToGo) {
  const std::string path = dir_ + "/node";
  std::ofstream(path) << "x";
  auto r = WaitForPathGone(path, Millis(100));
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(TimedOut(r.error()));
}

TEST(WaitForExit, ChildThatExitsEndsTheWait) {
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    usleep(100 * 1000);
    _exit(0);
  }
  const auto start = Clock::now();
  auto r = WaitForExit(child, Millis(10000));
  EXPECT_TRUE(r.ok()) << r.error().message();
  EXPECT_LT(Clock::now() - start, Millis(5000));
  int status = 0;
  EXPECT_EQ(waitpid(child, &status, 0), child);  // not reaped by the wait
}

TEST(WaitForExit, ChildThatKeepsRunningTimesOut) {
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    pause();
    _exit(0);
  }
  auto r = WaitForExit(child, Millis(150));
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(TimedOut(r.error()));
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
}

TEST(WaitForExit, ProcessThatIsGoneIsNoWait) {
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) _exit(0);
  waitpid(child, nullptr, 0);
  EXPECT_TRUE(WaitForExit(child, Millis(0)).ok());
}

TEST(PollKernelState, StateReachedAfterAFewPollsIsOk) {
  int polls = 0;
  auto r = PollKernelState("the third poll", Millis(10000), Millis(1),
                           [&]() -> Result<bool> { return ++polls == 3; });
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(polls, 3);
}

TEST(PollKernelState, StateNeverReachedTimesOutNamingWhatItWaitedFor) {
  int polls = 0;
  auto r = PollKernelState("device 7 to leave LIVE", Millis(100), Millis(10),
                           [&]() -> Result<bool> {
                             ++polls;
                             return false;
                           });
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(TimedOut(r.error()));
  EXPECT_NE(r.error().message().find("device 7 to leave LIVE"),
            std::string::npos);
  EXPECT_GE(polls, 2);  // polled at once and again before giving up
}

TEST(PollKernelState, ErrorOfThePollIsReturnedAsIs) {
  auto r = PollKernelState("anything", Millis(10000), Millis(1),
                           []() -> Result<bool> { return Invalid("no device"); });
  ASSERT_FALSE(r.ok());
  EXPECT_FALSE(TimedOut(r.error()));
  EXPECT_EQ(r.error().message(), "no device");
}

}  // namespace
}  // namespace ublk

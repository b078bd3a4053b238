// The ring's setup flags as the queue's start-up line names them.
#include "ublk/ring.h"

#include <gtest/gtest.h>

#include <chrono>

namespace ublk {
namespace {

TEST(SetupFlagNames, NamesEachGrantedFlagInOrder) {
  EXPECT_EQ(SetupFlagNames(IORING_SETUP_COOP_TASKRUN |
                           IORING_SETUP_SINGLE_ISSUER |
                           IORING_SETUP_DEFER_TASKRUN),
            "COOP_TASKRUN SINGLE_ISSUER DEFER_TASKRUN");
  EXPECT_EQ(SetupFlagNames(IORING_SETUP_SQE128 | IORING_SETUP_CQE32),
            "SQE128 CQE32");
}

TEST(SetupFlagNames, NoFlagIsNone) { EXPECT_EQ(SetupFlagNames(0), "none"); }

TEST(SetupFlagNames, RingWithoutThreadOwnershipGetsNoTaskrunFlags) {
  auto ring = Ring::Create({.entries = 4});
  ASSERT_TRUE(ring.ok()) << ring.error().message();
  EXPECT_EQ(SetupFlagNames(ring->setup_flags()), "none");
}

TEST(SetupFlagNames, RingWithoutThreadOwnershipIgnoresTheTaskrunFlag) {
  auto ring = Ring::Create({.entries = 4, .taskrun_flag = true});
  ASSERT_TRUE(ring.ok()) << ring.error().message();
  EXPECT_EQ(SetupFlagNames(ring->setup_flags()), "none");
}

// What a --poll-us spin relies on: with TASKRUN_FLAG a completion that
// waits as deferred work shows in the SQ ring's flags before any enter,
// and an enter with GETEVENTS runs it.
TEST(TaskrunFlag, DeferredCompletionShowsInTheSqFlagsBeforeAnyEnter) {
  auto ring = Ring::Create(
      {.entries = 4, .owned_by_thread = true, .taskrun_flag = true});
  ASSERT_TRUE(ring.ok()) << ring.error().message();
  io_uring* r = ring->get();
  if (!(r->flags & IORING_SETUP_DEFER_TASKRUN))
    GTEST_SKIP() << "kernel without DEFER_TASKRUN";
  ASSERT_TRUE(r->flags & IORING_SETUP_TASKRUN_FLAG);
  __kernel_timespec ts{.tv_sec = 0, .tv_nsec = 1'000'000};
  io_uring_prep_timeout(io_uring_get_sqe(r), &ts, 0, 0);
  ASSERT_EQ(io_uring_submit(r), 1);
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!(IO_URING_READ_ONCE(*r->sq.kflags) & IORING_SQ_TASKRUN) &&
         std::chrono::steady_clock::now() < until) {
  }
  ASSERT_TRUE(IO_URING_READ_ONCE(*r->sq.kflags) & IORING_SQ_TASKRUN);
  EXPECT_EQ(io_uring_cq_ready(r), 0u);
  ASSERT_GE(io_uring_submit_and_get_events(r), 0);
  EXPECT_EQ(io_uring_cq_ready(r), 1u);
  EXPECT_FALSE(IO_URING_READ_ONCE(*r->sq.kflags) & IORING_SQ_TASKRUN);
}

}  // namespace
}  // namespace ublk

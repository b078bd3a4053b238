// SpinPolicy: --poll-us spins only while work comes back within the budget.
#include "spin_policy.h"

#include <gtest/gtest.h>

namespace ublk {
namespace {

constexpr uint64_t kUs = 1000;

TEST(SpinPolicy, ZeroBudgetNeverSpins) {
  SpinPolicy p(0);
  EXPECT_FALSE(p.ShouldSpin());
  p.SleepEnded(0, 1);
  p.SpinEnded(true);
  EXPECT_FALSE(p.ShouldSpin());
}

TEST(SpinPolicy, SpinsFirstAndWhileSpinsFindWork) {
  SpinPolicy p(50 * kUs);
  EXPECT_TRUE(p.ShouldSpin());
  p.SpinEnded(true);
  EXPECT_TRUE(p.ShouldSpin());
}

TEST(SpinPolicy, KeepsSpinningOnlyWithinTheBudget) {
  SpinPolicy p(50 * kUs);
  EXPECT_TRUE(p.KeepSpinning(1000 * kUs, 1000 * kUs));
  EXPECT_TRUE(p.KeepSpinning(1000 * kUs, 1049 * kUs));
  EXPECT_FALSE(p.KeepSpinning(1000 * kUs, 1050 * kUs));
}

TEST(SpinPolicy, AnIdleDeviceStopsSpinningUntilWorkComesBackQuickly) {
  SpinPolicy p(50 * kUs);
  p.SpinEnded(false);  // spun the whole budget for nothing
  EXPECT_FALSE(p.ShouldSpin());
  p.SleepEnded(0, 5'000'000 * kUs);  // then slept for seconds
  EXPECT_FALSE(p.ShouldSpin());
  p.SleepEnded(0, 20 * kUs);  // a request came within the budget
  EXPECT_TRUE(p.ShouldSpin());
}

TEST(SpinPolicy, ASleepAsLongAsTheBudgetArmsTheSpin) {
  SpinPolicy p(50 * kUs);
  p.SpinEnded(false);
  p.SleepEnded(100 * kUs, 150 * kUs);
  EXPECT_TRUE(p.ShouldSpin());
  p.SleepEnded(100 * kUs, 151 * kUs);
  EXPECT_FALSE(p.ShouldSpin());
}

}  // namespace
}  // namespace ublk

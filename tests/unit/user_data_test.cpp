#include "ublk/user_data.h"

#include <gtest/gtest.h>

namespace ublk {
namespace {

TEST(UserData, RoundTripsEveryFieldAtItsLimits) {
  for (UserData d : {UserData{0, UserOp::kFetch, 0, 0},
                     UserData{4095, UserOp::kTarget, 0xffff, 4095},
                     UserData{0xffff, UserOp::kStopEvent, 1, 0xffff},
                     UserData{17, UserOp::kTarget, 3, 2}}) {
    EXPECT_EQ(DecodeUserData(EncodeUserData(d)), d);
  }
}

TEST(UserData, FieldsDoNotOverlap) {
  uint64_t tag = EncodeUserData({0xffff, UserOp{0}, 0, 0});
  uint64_t op = EncodeUserData({0, UserOp{0xff}, 0, 0});
  uint64_t data = EncodeUserData({0, UserOp{0}, 0xffff, 0});
  uint64_t queue = EncodeUserData({0, UserOp{0}, 0, 0xffff});
  EXPECT_EQ(tag & op, 0u);
  EXPECT_EQ((tag | op) & data, 0u);
  EXPECT_EQ((tag | op | data) & queue, 0u);
}

static_assert(DecodeUserData(EncodeUserData({5, UserOp::kFetch, 6, 7})) ==
              UserData{5, UserOp::kFetch, 6, 7});

}  // namespace
}  // namespace ublk

// The ring's setup flags as the queue's start-up line names them.
#include "ublk/ring.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace ublk

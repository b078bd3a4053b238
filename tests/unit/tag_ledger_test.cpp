// TagLedger: the queue's per-tag state machine, driven as the queue thread
// drives it (fetch -> target I/O -> commit, abort), and every move from every
// state, legal or not.
#include "tag_ledger.h"

#include <gtest/gtest.h>

#include <array>
#include <functional>
#include <string>

namespace ublk {
namespace {

using State = TagLedger::State;

// Every tag is in exactly one place, whatever happened.
void ExpectAccounted(const TagLedger& l) {
  unsigned parked = 0, in_target = 0, aborted = 0;
  for (uint16_t t = 0; t < l.depth(); ++t) {
    switch (l.state(t)) {
      case State::kParked:
        ++parked;
        break;
      case State::kInTarget:
        ++in_target;
        break;
      case State::kAborted:
        ++aborted;
        break;
      case State::kForeign:
        break;
    }
  }
  EXPECT_EQ(parked, l.parked());
  EXPECT_EQ(in_target, l.in_target());
  EXPECT_EQ(aborted, l.aborted());
  EXPECT_EQ(l.parked() + l.in_target() + l.aborted(), l.owned());
}

TEST(TagLedger, StartsWithEveryTagParkedAndNothingCounted) {
  TagLedger l;
  l.Reset(8);
  EXPECT_EQ(l.depth(), 8u);
  EXPECT_EQ(l.parked(), 8u);
  EXPECT_EQ(l.in_target(), 0u);
  EXPECT_EQ(l.aborted(), 0u);
  EXPECT_EQ(l.unexpected(), 0u);
  for (uint16_t t = 0; t < 8; ++t) EXPECT_EQ(l.state(t), State::kParked);
  ExpectAccounted(l);
}

TEST(TagLedger, AShareOwnsItsTagsAndRefusesEveryMoveOfAnotherThreadsTags) {
  TagLedger l;
  l.Reset(7, 3, 1);  // tags 1 and 4 of 0..6
  EXPECT_EQ(l.depth(), 7u);
  EXPECT_EQ(l.owned(), 2u);
  EXPECT_EQ(l.parked(), 2u);
  for (uint16_t t = 0; t < 7; ++t)
    EXPECT_EQ(l.state(t), t % 3 == 1 ? State::kParked : State::kForeign) << t;
  EXPECT_FALSE(l.Deliver(0));
  EXPECT_FALSE(l.Abort(2, true));
  EXPECT_FALSE(l.AcceptTargetCompletion(3));
  EXPECT_EQ(l.unexpected(), 3u);
  ExpectAccounted(l);
  // Drained once its own tags are aborted; the others never come.
  ASSERT_TRUE(l.Abort(1, true));
  EXPECT_FALSE(l.Drained(false));
  ASSERT_TRUE(l.Abort(4, true));
  EXPECT_TRUE(l.Drained(false));
  ExpectAccounted(l);
}

TEST(TagLedger, FetchTargetCommitCyclesAccountForEveryTag) {
  TagLedger l;
  l.Reset(4);
  for (int round = 0; round < 3; ++round) {
    for (uint16_t t = 0; t < 4; ++t) {
      ASSERT_TRUE(l.Deliver(t));  // the fetch brought a request
      ExpectAccounted(l);
    }
    EXPECT_EQ(l.in_target(), 4u);
    for (uint16_t t = 0; t < 4; ++t) {
      ASSERT_TRUE(l.AcceptTargetCompletion(t));  // backend I/O done
      ASSERT_TRUE(l.Park(t));                    // commit queued
      ExpectAccounted(l);
    }
    EXPECT_EQ(l.parked(), 4u);
  }
  EXPECT_EQ(l.unexpected(), 0u);
}

TEST(TagLedger, NeedGetDataKeepsTheTagParkedUntilTheRequestArrives) {
  TagLedger l;
  l.Reset(2);
  ASSERT_TRUE(l.Repark(1));
  EXPECT_EQ(l.state(1), State::kParked);
  ASSERT_TRUE(l.Deliver(1));
  EXPECT_EQ(l.state(1), State::kInTarget);
  EXPECT_EQ(l.unexpected(), 0u);
}

TEST(TagLedger, EnodevAbortIsExpectedAndAnyOtherFetchErrorIsCounted) {
  TagLedger l;
  l.Reset(2);
  ASSERT_TRUE(l.Abort(0, /*expected=*/true));
  EXPECT_EQ(l.unexpected(), 0u);
  ASSERT_TRUE(l.Abort(1, /*expected=*/false));
  EXPECT_EQ(l.unexpected(), 1u);
  EXPECT_EQ(l.aborted(), 2u);
  ExpectAccounted(l);
}

// The queue thread's exit condition.
TEST(TagLedger, DrainedOnceEveryTagIsAborted) {
  TagLedger l;
  l.Reset(3);
  EXPECT_FALSE(l.Drained(false));
  ASSERT_TRUE(l.Abort(0, true));
  ASSERT_TRUE(l.Abort(1, true));
  EXPECT_FALSE(l.Drained(false));
  ASSERT_TRUE(l.Abort(2, true));
  EXPECT_TRUE(l.Drained(false));
}

TEST(TagLedger, StopWaitsForEveryTagInTheTarget) {
  TagLedger l;
  l.Reset(3);
  EXPECT_TRUE(l.Drained(/*stop_requested=*/true));
  ASSERT_TRUE(l.Deliver(0));
  ASSERT_TRUE(l.Deliver(2));
  EXPECT_FALSE(l.Drained(true));
  ASSERT_TRUE(l.Park(0));
  EXPECT_FALSE(l.Drained(true));
  ASSERT_TRUE(l.Park(2));
  EXPECT_TRUE(l.Drained(true));
}

// A tag in the target cannot be aborted by the kernel (it holds no command
// for it), so the queue never exits with backend I/O in flight even when
// the other tags are gone.
TEST(TagLedger, NotDrainedWhileATagIsInTheTargetAndTheRestAreAborted) {
  TagLedger l;
  l.Reset(2);
  ASSERT_TRUE(l.Deliver(0));
  ASSERT_TRUE(l.Abort(1, true));
  EXPECT_FALSE(l.Drained(false));
  EXPECT_FALSE(l.Abort(0, true));
  ASSERT_TRUE(l.Park(0));
  ASSERT_TRUE(l.Abort(0, true));
  EXPECT_TRUE(l.Drained(false));
}

// Every move from every state: the legal ones go where the contract says,
// the others leave the tag alone and count once.
TEST(TagLedger, EveryMoveFromEveryStateIsAppliedOrRefusedAndCounted) {
  struct Move {
    const char* name;
    std::function<bool(TagLedger&, uint16_t)> apply;
    // Where the move leads from parked / in target / aborted, kRefused
    // where it is illegal.
    std::array<int, 3> to;
  };
  constexpr int kRefused = -1;
  const int parked = static_cast<int>(State::kParked);
  const int in_target = static_cast<int>(State::kInTarget);
  const int aborted = static_cast<int>(State::kAborted);
  const Move moves[] = {
      {"Deliver",
       [](TagLedger& l, uint16_t t) { return l.Deliver(t); },
       {in_target, kRefused, kRefused}},
      {"Park",
       [](TagLedger& l, uint16_t t) { return l.Park(t); },
       {kRefused, parked, kRefused}},
      {"Repark",
       [](TagLedger& l, uint16_t t) { return l.Repark(t); },
       {parked, kRefused, kRefused}},
      {"Abort(expected)",
       [](TagLedger& l, uint16_t t) { return l.Abort(t, true); },
       {aborted, kRefused, kRefused}},
      {"AcceptTargetCompletion",
       [](TagLedger& l, uint16_t t) { return l.AcceptTargetCompletion(t); },
       {kRefused, in_target, kRefused}},
  };
  // How to bring tag 1 of a fresh ledger into each state.
  const std::function<void(TagLedger&)> reach[] = {
      [](TagLedger&) {},
      [](TagLedger& l) { ASSERT_TRUE(l.Deliver(1)); },
      [](TagLedger& l) { ASSERT_TRUE(l.Abort(1, true)); },
  };
  for (const Move& m : moves) {
    for (int from = 0; from < 3; ++from) {
      SCOPED_TRACE(std::string(m.name) + " from state " + std::to_string(from));
      TagLedger l;
      l.Reset(3);
      reach[from](l);
      const bool legal = m.to[from] != kRefused;
      EXPECT_EQ(m.apply(l, 1), legal);
      EXPECT_EQ(static_cast<int>(l.state(1)), legal ? m.to[from] : from);
      EXPECT_EQ(l.unexpected(), legal ? 0u : 1u);
      // The other tags are untouched.
      EXPECT_EQ(l.state(0), State::kParked);
      EXPECT_EQ(l.state(2), State::kParked);
      ExpectAccounted(l);
    }
  }
}

// A completion naming a tag beyond the queue (corrupt user_data) moves
// nothing and reads nothing out of bounds.
TEST(TagLedger, TagOutsideTheQueueIsRefusedAndCounted) {
  TagLedger l;
  l.Reset(4);
  EXPECT_FALSE(l.Deliver(4));
  EXPECT_FALSE(l.Park(4));
  EXPECT_FALSE(l.Repark(0xffff));
  EXPECT_FALSE(l.Abort(4, true));
  EXPECT_FALSE(l.AcceptTargetCompletion(100));
  EXPECT_EQ(l.unexpected(), 5u);
  EXPECT_EQ(l.parked(), 4u);
  ExpectAccounted(l);
}

TEST(TagLedger, FailedBufferCommandIsCountedWithoutMovingATag) {
  TagLedger l;
  l.Reset(2);
  l.NoteUnexpected();
  EXPECT_EQ(l.unexpected(), 1u);
  EXPECT_EQ(l.parked(), 2u);
}

TEST(TagLedger, ResetParksEveryTagAndClearsTheCounts) {
  TagLedger l;
  l.Reset(2);
  ASSERT_TRUE(l.Deliver(0));
  ASSERT_TRUE(l.Abort(1, false));
  l.Reset(3);
  EXPECT_EQ(l.depth(), 3u);
  EXPECT_EQ(l.parked(), 3u);
  EXPECT_EQ(l.unexpected(), 0u);
  ExpectAccounted(l);
}

}  // namespace
}  // namespace ublk

// TagLedger: where each tag of one queue is, and the counts that decide when
// the queue thread may exit.
//
// Every tag the queue thread owns (all of the queue's, or its share of them
// with several threads per queue: thread_plan.h) is always in exactly one of
// three places:
//   parked     its FETCH_REQ (or COMMIT_AND_FETCH_REQ, NEED_GET_DATA) is
//              with the kernel, waiting for a request
//   in target  the kernel handed a request over; the target works on it
//   aborted    the kernel completed its fetch with an error (-ENODEV on
//              stop, delete or ring exit) or its command could not be
//              queued; the tag is never used again
// A tag of another thread is foreign: every move of it is refused.
// The legal moves are parked -> in target (Deliver), in target -> parked
// (Park, as the commit that re-parks it is queued), parked -> parked (Repark,
// NEED_GET_DATA answered) and parked -> aborted (Abort). Any other move is
// refused: the tag stays where it was, the call returns false and the move
// counts as unexpected. A refused move means the kernel or a target completed
// something for a tag that was not waiting for it; the queue drops that
// completion.
//
// Pure bookkeeping: no I/O. Reset allocates (setup only); every other call
// is noexcept and allocation-free. Used only by the queue thread.
#pragma once

#include <cstdint>
#include <vector>

namespace ublk {

class TagLedger {
 public:
  enum class State : uint8_t { kParked, kInTarget, kAborted, kForeign };

  // All `depth` tags parked, every count zero. Allocates.
  void Reset(uint16_t depth) { Reset(depth, 1, 0); }
  // Of `depth` tags, those with tag % shares == share parked, the others
  // foreign. Allocates.
  void Reset(uint16_t depth, uint16_t shares, uint16_t share) {
    states_.assign(depth, State::kForeign);
    owned_ = 0;
    for (uint32_t t = share; t < depth; t += shares) {
      states_[t] = State::kParked;
      ++owned_;
    }
    in_target_ = aborted_ = unexpected_ = 0;
  }

  // A fetch completed with a request: parked -> in target.
  [[nodiscard]] bool Deliver(uint16_t tag) noexcept {
    if (!Move(tag, State::kParked, State::kInTarget)) return false;
    ++in_target_;
    return true;
  }
  // The target finished the request; the commit about to be queued parks
  // the tag again: in target -> parked.
  [[nodiscard]] bool Park(uint16_t tag) noexcept {
    if (!Move(tag, State::kInTarget, State::kParked)) return false;
    --in_target_;
    return true;
  }
  // A fetch completed with NEED_GET_DATA and the answer is queued: the tag
  // stays parked.
  [[nodiscard]] bool Repark(uint16_t tag) noexcept {
    return Move(tag, State::kParked, State::kParked);
  }
  // The kernel no longer holds this parked tag: parked -> aborted. Unless
  // `expected` (the fetch's -ENODEV), the abort also counts as unexpected.
  [[nodiscard]] bool Abort(uint16_t tag, bool expected) noexcept {
    if (!Move(tag, State::kParked, State::kAborted)) return false;
    ++aborted_;
    if (!expected) ++unexpected_;
    return true;
  }
  // A backend completion for `tag` arrived: true if the tag is in the
  // target (the completion goes there), else false and counted.
  [[nodiscard]] bool AcceptTargetCompletion(uint16_t tag) noexcept {
    return Move(tag, State::kInTarget, State::kInTarget);
  }
  // Something failed that moves no tag (a buffer command's error CQE).
  void NoteUnexpected() noexcept { ++unexpected_; }

  // The queue may exit once nothing is in the target and either every
  // owned tag is aborted (the kernel let go of the queue) or a stop was requested
  // (parked tags are cancelled when the ring goes).
  bool Drained(bool stop_requested) const noexcept {
    return in_target_ == 0 && (aborted_ == owned_ || stop_requested);
  }

  State state(uint16_t tag) const noexcept { return states_[tag]; }
  unsigned depth() const noexcept {
    return static_cast<unsigned>(states_.size());
  }
  unsigned owned() const noexcept { return owned_; }
  unsigned parked() const noexcept { return owned_ - in_target_ - aborted_; }
  unsigned in_target() const noexcept { return in_target_; }
  unsigned aborted() const noexcept { return aborted_; }
  unsigned unexpected() const noexcept { return unexpected_; }

 private:
  bool Move(uint16_t tag, State from, State to) noexcept {
    if (tag >= states_.size() || states_[tag] != from) {
      ++unexpected_;
      return false;
    }
    states_[tag] = to;
    return true;
  }

  std::vector<State> states_;
  unsigned owned_ = 0;
  unsigned in_target_ = 0;
  unsigned aborted_ = 0;
  unsigned unexpected_ = 0;
};

}  // namespace ublk

// SpinPolicy: whether a queue thread with nothing to do busy-checks its ring
// for a while (--poll-us N) before it sleeps in io_uring_enter, and for how
// long.
//
// At low queue depth each request costs the queue thread a sleep and a
// wake-up. Spinning for a few microseconds catches the next request (or the
// backend's completion) without them, at the price of a CPU that does no
// other work meanwhile. The policy is adaptive so an idle or slow device
// does not burn a core: after a spin that found nothing the thread sleeps,
// and it spins again only once a sleep ended within the spin budget (the
// work came back at a pace a spin would have caught) or work was found
// without sleeping. Pure arithmetic on times the caller reads, so it is
// unit-tested without a ring or a clock.
#pragma once

#include <cstdint>

namespace ublk {

class SpinPolicy {
 public:
  // budget_ns 0: never spin.
  explicit SpinPolicy(uint64_t budget_ns) : budget_ns_(budget_ns) {}

  // Before waiting: spin now?
  bool ShouldSpin() const { return budget_ns_ != 0 && armed_; }
  // While spinning since start_ns: keep going at now_ns?
  bool KeepSpinning(uint64_t start_ns, uint64_t now_ns) const {
    return now_ns - start_ns < budget_ns_;
  }
  // The spin ended: found work, or ran out of budget with none.
  void SpinEnded(bool found) { armed_ = found; }
  // A sleep that began at slept_ns ended at woke_ns: arm the next spin if
  // the spin budget would have covered it.
  void SleepEnded(uint64_t slept_ns, uint64_t woke_ns) {
    if (budget_ns_ != 0) armed_ = woke_ns - slept_ns <= budget_ns_;
  }
  uint64_t budget_ns() const { return budget_ns_; }

 private:
  uint64_t budget_ns_;
  bool armed_ = true;
};

}  // namespace ublk

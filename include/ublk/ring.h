// Ring: sole owner of one io_uring instance.
//
// A Ring belongs to the thread that created it: with single_issuer the kernel
// refuses submissions from any other task, and deferred task work (ublk
// dispatch, backend completions) runs only inside that thread's
// io_uring_enter. Move-only; the destructor tears the ring down, which also
// cancels and waits for whatever is still in flight on it.
#pragma once

#include <liburing.h>

#include <memory>
#include <string>

#include "ublk/result.h"

namespace ublk {

struct RingOptions {
  unsigned entries = 64;
  bool big_sqe = false;  // 128-byte SQEs: ublk control, NVMe passthrough
  bool big_cqe = false;  // 32-byte CQEs: NVMe passthrough
  // SINGLE_ISSUER | DEFER_TASKRUN | COOP_TASKRUN, each dropped again when the
  // kernel predates it (6.1 / 6.0 / 5.19).
  bool owned_by_thread = false;
  // IORING_SETUP_IOPOLL: completions are found by polling the device's
  // poll queues inside io_uring_enter(GETEVENTS), never by interrupt. Only
  // files with an iopoll handler take I/O on such a ring (NVMe's char
  // device does; /dev/ublkcN does not).
  bool iopoll = false;
  // IORING_SETUP_TASKRUN_FLAG, with owned_by_thread: the kernel sets
  // IORING_SQ_TASKRUN in the SQ ring's flags while deferred work waits to
  // run, so a spinning thread can watch memory and enter only when there is
  // something to run (5.19; dropped with the task-run flags on older ones).
  bool taskrun_flag = false;
};

// Names of the setup flags Create may ask for, in `flags` ("SQE128
// COOP_TASKRUN SINGLE_ISSUER ..."), for a lifecycle log line; "none" when
// none is set.
std::string SetupFlagNames(unsigned flags);

class Ring {
 public:
  static Result<Ring> Create(const RingOptions& options);

  io_uring* get() const { return ring_.get(); }
  // The IORING_SETUP_* flags the kernel granted: Create drops the ones an
  // older kernel lacks, so this is what the ring really runs with.
  unsigned setup_flags() const { return ring_->flags; }

 private:
  struct Exit {
    void operator()(io_uring* ring) const;
  };
  explicit Ring(std::unique_ptr<io_uring, Exit> ring) : ring_(std::move(ring)) {}
  std::unique_ptr<io_uring, Exit> ring_;
};

}  // namespace ublk

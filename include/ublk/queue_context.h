// QueueContext: what a target sees of one queue.
//
// Owned by the queue thread and used only there. It hides the thread and the
// ring: targets ask it for SQEs whose completions come back to them, and for
// fixed-file slots during setup.
#pragma once

#include <liburing.h>

#include <cstdint>
#include <cstring>

#include "ublk/result.h"
#include "ublk/user_data.h"

namespace ublk {

class QueueContext {
 public:
  QueueContext(io_uring* ring, uint16_t queue_id, uint16_t depth,
               unsigned sqe_bytes)
      : ring_(ring), id_(queue_id), depth_(depth), sqe_bytes_(sqe_bytes) {}

  uint16_t id() const { return id_; }
  uint16_t depth() const { return depth_; }

  // A zeroed SQE whose completion is routed to TargetQueue::Complete for
  // `tag` with `target_data`. When the submission queue is full the queued
  // entries are flushed to the kernel first; nullptr only if that fails.
  io_uring_sqe* GetSqe(uint16_t tag, uint16_t target_data) noexcept {
    io_uring_sqe* sqe = io_uring_get_sqe(ring_);
    if (sqe == nullptr) {
      if (io_uring_submit(ring_) < 0) return nullptr;
      sqe = io_uring_get_sqe(ring_);
      if (sqe == nullptr) return nullptr;
    }
    std::memset(sqe, 0, sqe_bytes_);
    sqe->user_data =
        EncodeUserData({tag, UserOp::kTarget, target_data, id_});
    return sqe;
  }

  // Setup only: puts fd into the ring's file table and returns its index
  // (use with IOSQE_FIXED_FILE). The fd must stay open while the queue runs.
  Result<int> AddFile(int fd);

 private:
  io_uring* ring_;
  uint16_t id_;
  uint16_t depth_;
  unsigned sqe_bytes_;
  int next_file_ = 1;  // slot 0 is the ublk char device
};

}  // namespace ublk

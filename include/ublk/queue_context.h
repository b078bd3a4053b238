// QueueContext: what a target sees of one queue.
//
// Owned by the queue thread and used only there. It hides the thread and the
// ring: targets ask it for SQEs whose completions come back to them, and for
// fixed-file slots during setup.
//
// For a request whose pages must be registered by hand (explicit zero copy,
// or automatic registration that fell back) the queue wraps the target's
// call in BeginChain/EndChain: the target's backend SQE then goes out as the
// middle of a hard-linked chain REGISTER_IO_BUF -> backend I/O ->
// UNREGISTER_IO_BUF, so the slot is released whatever the I/O does. The
// target notices nothing but Request::buf_index.
#pragma once

#include <liburing.h>

#include <cstdint>
#include <cstring>

#include "ublk/io_buf_cmd.h"
#include "ublk/result.h"
#include "ublk/user_data.h"

namespace ublk {

// Size of each queue ring's fixed-file table, registered sparse when the
// queue starts: slot kCharFileSlot is /dev/ublkcN, the others go to the
// target through QueueContext::AddFile.
inline constexpr unsigned kFileSlots = 16;

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
  // Inside a chain (the tag's first SQE) the register command goes first;
  // a chain never straddles a flush, so its links hold.
  io_uring_sqe* GetSqe(uint16_t tag, uint16_t target_data) noexcept {
    const bool chained = chain_.armed && tag == chain_.tag;
    if (chained) {
      if (chain_.last != nullptr) {
        chain_.last->flags |= IOSQE_IO_HARDLINK;
      } else {
        if (io_uring_sq_space_left(ring_) < kChainSqes && !Flush())
          return nullptr;
        io_uring_sqe* reg = ZeroedSqe();
        if (reg == nullptr) return nullptr;
        PrepIoBufCmd(reg, abi::kIoRegisterIoBuf, id_, tag, chain_.slot);
        reg->flags |= IOSQE_IO_HARDLINK | IOSQE_CQE_SKIP_SUCCESS;
        reg->user_data = EncodeUserData({tag, UserOp::kBufCmd, 0, id_});
      }
    }
    io_uring_sqe* sqe = ZeroedSqe();
    if (sqe == nullptr) return nullptr;
    sqe->user_data =
        EncodeUserData({tag, UserOp::kTarget, target_data, id_});
    if (chained) chain_.last = sqe;
    return sqe;
  }

  // Queue only. The target's next SQEs for `tag` use the request's pages
  // registered at buffer table index `slot`.
  void BeginChain(uint16_t tag, uint16_t slot) noexcept {
    chain_ = {true, tag, slot, nullptr};
  }
  // Queue only. Closes the chain with the unregister command, linked so it
  // runs even when the I/O fails. Returns whether a chain was sent (a target
  // that finished the request at once used no buffer and sent none).
  bool EndChain() noexcept {
    const bool sent = chain_.last != nullptr;
    if (sent) {
      chain_.last->flags |= IOSQE_IO_HARDLINK;
      // Reserved by GetSqe for a one-SQE chain. Were it missing, the ring
      // would be broken; the slot is then emptied when the ring goes.
      if (io_uring_sqe* unreg = ZeroedSqe()) {
        PrepIoBufCmd(unreg, abi::kIoUnregisterIoBuf, id_, chain_.tag,
                     chain_.slot);
        unreg->flags |= IOSQE_CQE_SKIP_SUCCESS;
        unreg->user_data =
            EncodeUserData({chain_.tag, UserOp::kBufCmd, 1, id_});
      }
    }
    chain_ = {};
    return sent;
  }

  // Setup only: puts fd into the ring's file table and returns its index
  // (use with IOSQE_FIXED_FILE). The fd must stay open while the queue runs.
  // Fails once the table's kFileSlots are taken.
  Result<int> AddFile(int fd);

 private:
  // register + the target's one SQE + unregister
  static constexpr unsigned kChainSqes = 3;

  struct Chain {
    bool armed = false;
    uint16_t tag = 0;
    uint16_t slot = 0;
    io_uring_sqe* last = nullptr;  // the target's latest SQE in the chain
  };

  bool Flush() noexcept { return io_uring_submit(ring_) >= 0; }

  io_uring_sqe* ZeroedSqe() noexcept {
    io_uring_sqe* sqe = io_uring_get_sqe(ring_);
    if (sqe == nullptr) {
      if (!Flush()) return nullptr;
      sqe = io_uring_get_sqe(ring_);
      if (sqe == nullptr) return nullptr;
    }
    std::memset(sqe, 0, sqe_bytes_);
    return sqe;
  }

  io_uring* ring_;
  uint16_t id_;
  uint16_t depth_;
  unsigned sqe_bytes_;
  int next_file_ = 1;  // slot 0 is the ublk char device
  Chain chain_;
};

}  // namespace ublk

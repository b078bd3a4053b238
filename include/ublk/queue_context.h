// QueueContext: what a target sees of one queue.
//
// Owned by the queue thread and used only there. It hides the thread and the
// ring: targets ask it for SQEs whose completions come back to them, and for
// fixed-file slots during setup.
//
// The queue wraps every call into the target (Queue, Complete) in
// BeginIo/EndIo. Before the call's first SQE, room for all of them is made
// (RingNeeds::sqes_per_io, flushing the queued entries if needed), so the
// SQEs of one call go to the kernel in one submission and links between them
// hold.
//
// For a request whose pages must be registered by hand (explicit zero copy,
// or automatic registration that fell back) the queue opens the call with
// BeginChain instead: the target's backend SQEs then go out as the middle of
// a hard-linked chain REGISTER_IO_BUF -> backend I/O -> UNREGISTER_IO_BUF,
// so the slot is released whatever the I/O does. The room made first covers
// the register, sqes_per_io SQEs and the unregister; a chain never straddles
// a flush. The target notices nothing but Request::buf_index.
//
// In user-copy mode a WRITE's data must reach the per-tag buffer before the
// backend reads it: the queue opens the call with BeginCopyIn, and the
// target's first SQE is preceded by a read of the request's data from
// /dev/ublkcN, linked (IOSQE_IO_LINK, not a hard link: a failed or short
// copy cancels the backend write, never lets it write stale data). The
// target's further SQEs of the call join the link. The copy's completion
// comes back as UserOp::kCopy. A request with integrity data has a second
// read, of its integrity buffer, linked between the data's and the
// target's SQEs (CopyKind tells the completions apart).
//
// A target whose backend I/O is not one request's (a network connection's
// send and receive carry many requests each) asks for queue SQEs instead
// (GetQueueSqe): their completions go to TargetQueue::CompleteQueueOp, and
// the target finishes requests from there with FinishRequest. Queue SQEs
// never join a request's links, so they are for targets whose requests
// have none (DataAccess::kMemoryOrAutoBuf: copy mode, or automatic buffer
// registration without the by-hand fallback).
//
// With a polled backend (RingNeeds::polled) every SQE the target asks for
// comes from the queue's second ring, created with IORING_SETUP_IOPOLL;
// its completions reach the target the same way. Chains and copies are
// then never opened (the queue refuses those data paths), since links
// cannot cross rings. The queue counts what is in flight there
// (polled_submitted) to know whether it may sleep.
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

// UserOp::kCopy's target_data: which transfer through /dev/ublkcN it was.
enum CopyKind : uint16_t {
  kCopyDataIn = 0,   // a WRITE's data into the per-tag buffer
  kCopyDataOut = 1,  // a READ's data back to the request
  kCopyMetaIn = 2,   // a WRITE's integrity data into the metadata buffer
  kCopyMetaOut = 3,  // a READ's integrity data back to the request
};

class QueueContext {
 public:
  // `ring` is borrowed and outlives the context; `sqe_bytes` is its SQE size
  // (64 or 128); `sqes_per_io` is how many SQEs the target may ask for in
  // one call (RingNeeds::sqes_per_io; 0 counts as 1).
  // `poll_ring`, when not null, is the polled backend ring (borrowed too,
  // 128-byte SQEs like `ring`'s when sqe_bytes says so).
  QueueContext(io_uring* ring, uint16_t queue_id, uint16_t depth,
               unsigned sqe_bytes, unsigned sqes_per_io,
               io_uring* poll_ring = nullptr)
      : ring_(ring),
        poll_ring_(poll_ring),
        id_(queue_id),
        depth_(depth),
        sqe_bytes_(sqe_bytes),
        sqes_per_io_(sqes_per_io == 0 ? 1 : sqes_per_io) {}

  uint16_t id() const { return id_; }
  uint16_t depth() const { return depth_; }
  unsigned sqes_per_io() const { return sqes_per_io_; }

  // A zeroed SQE whose completion is routed to TargetQueue::Complete for
  // `tag` with `target_data`. When the submission queue has no room the
  // queued entries are flushed to the kernel first; nullptr only if that
  // fails, which means the ring is broken. Inside a chain, nullptr also
  // when a target asks for more than sqes_per_io SQEs and the ring has no
  // room left for them without a flush (that would split the chain).
  io_uring_sqe* GetSqe(uint16_t tag, uint16_t target_data) noexcept {
    if (poll_ring_ != nullptr) return PolledSqe(tag, target_data);
    const bool in_call = call_.open && tag == call_.tag;
    const bool chained = in_call && call_.chained;
    if (in_call && call_.sqes == 0) {
      const bool data_in = call_.copy_in && call_.copy_len != 0;
      const bool meta_in = call_.copy_in && call_.meta_len != 0;
      const unsigned room = sqes_per_io_ + (chained ? 2u : 0u) +
                            (data_in ? 1u : 0u) + (meta_in ? 1u : 0u);
      if (io_uring_sq_space_left(ring_) < room &&
          (!Flush() || io_uring_sq_space_left(ring_) < room))
        return nullptr;
      if (data_in && !CopyIn(call_.copy_buf, call_.copy_len, call_.copy_off,
                             kCopyDataIn))
        return nullptr;
      if (meta_in && !CopyIn(call_.meta_buf, call_.meta_len, call_.meta_off,
                             kCopyMetaIn))
        return nullptr;
      if (chained) {
        io_uring_sqe* reg = ZeroedSqe();
        if (reg == nullptr) return nullptr;
        PrepIoBufCmd(reg, abi::kIoRegisterIoBuf, id_, tag, call_.slot);
        reg->flags |= IOSQE_IO_HARDLINK | IOSQE_CQE_SKIP_SUCCESS;
        reg->user_data = EncodeUserData({tag, UserOp::kBufCmd, 0, id_});
      }
    } else if (chained) {
      // Beyond the room made at the start only while no flush is needed:
      // this SQE and the unregister must still fit.
      if (io_uring_sq_space_left(ring_) < 2) return nullptr;
      call_.last->flags |= IOSQE_IO_HARDLINK;
    } else if (in_call && call_.copies_sent != 0) {
      // Still behind the copy: no flush may split the link.
      if (io_uring_sq_space_left(ring_) < 1) return nullptr;
      call_.last->flags |= IOSQE_IO_LINK;
    } else if (io_uring_sq_space_left(ring_) == 0 && !Flush()) {
      return nullptr;
    }
    io_uring_sqe* sqe = ZeroedSqe();
    if (sqe == nullptr) return nullptr;
    sqe->user_data = EncodeUserData({tag, UserOp::kTarget, target_data, id_});
    if (in_call) {
      ++call_.sqes;
      call_.last = sqe;
    }
    return sqe;
  }

  // A zeroed SQE of the queue as a whole, routed to
  // TargetQueue::CompleteQueueOp with `target_data`; flushes first when the
  // submission queue is full. nullptr when the ring is broken, or when
  // asked inside a call that links its SQEs (a chain, a copy), which a
  // queue SQE would split.
  io_uring_sqe* GetQueueSqe(uint16_t target_data) noexcept {
    if (poll_ring_ != nullptr) return nullptr;
    if (call_.open && (call_.chained || call_.copy_in)) return nullptr;
    if (io_uring_sq_space_left(ring_) == 0 && !Flush()) return nullptr;
    io_uring_sqe* sqe = ZeroedSqe();
    if (sqe != nullptr)
      sqe->user_data =
          EncodeUserData({0, UserOp::kTargetQueue, target_data, id_});
    return sqe;
  }

  // Finishes request `tag` with `result` (bytes or -errno), from
  // TargetQueue::CompleteQueueOp or from Queue()/Complete() for a request
  // other than the one the call is about (which finishes by returning
  // IoStatus::Done). A tag that is not in the target is ignored (and
  // counted by the queue as unexpected).
  void FinishRequest(uint16_t tag, int result) noexcept {
    if (finish_ != nullptr) finish_(finish_arg_, tag, result);
  }
  // Queue only, at setup: where FinishRequest goes.
  using FinishFn = void (*)(void* arg, uint16_t tag, int result) noexcept;
  void SetFinisher(FinishFn fn, void* arg) noexcept {
    finish_ = fn;
    finish_arg_ = arg;
  }

  // Queue only, before calling the target for `tag`.
  void BeginIo(uint16_t tag) noexcept {
    call_ = {};
    call_.open = true;
    call_.tag = tag;
  }
  // Queue only, before calling the target for a user-copy WRITE: the
  // target's first SQE is preceded by a linked read of `len` bytes at
  // `off` of /dev/ublkcN into `buf` (none when len is 0: zero copy), and,
  // when meta_len is not 0, one of meta_len bytes at meta_off into
  // meta_buf.
  void BeginCopyIn(uint16_t tag, void* buf, uint32_t len, uint64_t off,
                   void* meta_buf = nullptr, uint32_t meta_len = 0,
                   uint64_t meta_off = 0) noexcept {
    BeginIo(tag);
    call_.copy_in = true;
    call_.copy_buf = buf;
    call_.copy_len = len;
    call_.copy_off = off;
    call_.meta_buf = meta_buf;
    call_.meta_len = meta_len;
    call_.meta_off = meta_off;
  }
  // Queue only, before EndIo: how many of BeginCopyIn's reads the call
  // sent (0, 1, or 2 with integrity data).
  unsigned CopiesInSent() const noexcept { return call_.copies_sent; }
  // The tag of the open call.
  uint16_t call_tag() const noexcept { return call_.tag; }
  // Queue only, before calling the target for `tag` whose pages are
  // registered by hand: the target's SQEs use buffer table index `slot`.
  void BeginChain(uint16_t tag, uint16_t slot) noexcept {
    BeginIo(tag);
    call_.chained = true;
    call_.slot = slot;
  }
  // Queue only, after the target returned. Closes a chain with the
  // unregister command, linked so it runs even when the I/O fails. Returns
  // whether a chain was sent (a target that finished the request at once
  // used no buffer and sent none).
  bool EndIo() noexcept {
    const bool sent = call_.chained && call_.last != nullptr;
    if (sent) {
      call_.last->flags |= IOSQE_IO_HARDLINK;
      // GetSqe left room for it, so this takes no flush. Were it missing
      // the ring would be broken; the slot is emptied when the ring goes.
      if (io_uring_sqe* unreg = ZeroedSqe()) {
        PrepIoBufCmd(unreg, abi::kIoUnregisterIoBuf, id_, call_.tag,
                     call_.slot);
        unreg->flags |= IOSQE_CQE_SKIP_SUCCESS;
        unreg->user_data = EncodeUserData({call_.tag, UserOp::kBufCmd, 1, id_});
      }
    }
    call_ = {};
    return sent;
  }

  // Setup only: puts fd into the ring's file table (and the polled ring's,
  // at the same index) and returns its index (use with IOSQE_FIXED_FILE).
  // The fd must stay open while the queue runs. Fails once the table's
  // kFileSlots are taken.
  Result<int> AddFile(int fd);

  // Queue thread: puts `fd` in table slot `index` (one AddFile returned)
  // in place of what was there, on both rings. The old file's table
  // reference is dropped; SQEs already in flight keep theirs.
  bool ReplaceFile(int index, int fd) noexcept;

  // Queue only: SQEs handed out on the polled ring since the last call,
  // each of which posts one completion there.
  unsigned TakePolledSubmitted() noexcept {
    const unsigned n = polled_submitted_;
    polled_submitted_ = 0;
    return n;
  }

 private:
  // The target call between BeginIo/BeginChain and EndIo.
  struct Call {
    bool open = false;
    bool chained = false;  // registered by hand around the target's SQEs
    uint16_t tag = 0;
    uint16_t slot = 0;
    unsigned sqes = 0;             // the target's SQEs so far
    io_uring_sqe* last = nullptr;  // the latest of them
    bool copy_in = false;    // user copy: read the data in first
    unsigned copies_sent = 0;  // ... and those reads are queued
    void* copy_buf = nullptr;
    uint32_t copy_len = 0;
    uint64_t copy_off = 0;
    void* meta_buf = nullptr;  // integrity data, when meta_len != 0
    uint32_t meta_len = 0;
    uint64_t meta_off = 0;
  };

  bool Flush() noexcept { return io_uring_submit(ring_) >= 0; }

  io_uring_sqe* PolledSqe(uint16_t tag, uint16_t target_data) noexcept {
    if (io_uring_sq_space_left(poll_ring_) == 0 &&
        io_uring_submit(poll_ring_) < 0)
      return nullptr;
    io_uring_sqe* sqe = io_uring_get_sqe(poll_ring_);
    if (sqe == nullptr) return nullptr;
    std::memset(sqe, 0, sqe_bytes_);
    sqe->user_data = EncodeUserData({tag, UserOp::kTarget, target_data, id_});
    ++polled_submitted_;
    return sqe;
  }

  // One of the open call's reads from /dev/ublkcN, linked ahead of what
  // follows; false without an SQE.
  bool CopyIn(void* buf, uint32_t len, uint64_t off, CopyKind kind) noexcept {
    io_uring_sqe* sqe = ZeroedSqe();
    if (sqe == nullptr) return false;
    io_uring_prep_read(sqe, kCharFileSlot, buf, len, off);
    sqe->flags |= IOSQE_FIXED_FILE | IOSQE_IO_LINK;
    sqe->user_data = EncodeUserData({call_.tag, UserOp::kCopy, kind, id_});
    ++call_.copies_sent;
    return true;
  }

  // Callers have made sure the submission queue has room.
  io_uring_sqe* ZeroedSqe() noexcept {
    io_uring_sqe* sqe = io_uring_get_sqe(ring_);
    if (sqe != nullptr) std::memset(sqe, 0, sqe_bytes_);
    return sqe;
  }

  io_uring* ring_;
  io_uring* poll_ring_;
  FinishFn finish_ = nullptr;
  void* finish_arg_ = nullptr;
  unsigned polled_submitted_ = 0;
  uint16_t id_;
  uint16_t depth_;
  unsigned sqe_bytes_;
  unsigned sqes_per_io_;
  int next_file_ = 1;  // slot 0 is the ublk char device
  Call call_;
};

}  // namespace ublk

// Loop target I/O: how one ublk request becomes SQEs on the backing store,
// and what a completion means for it.
//
// Pure functions over an io_uring_sqe (no ring, no syscalls), so the SQE
// fields are unit-tested one by one. They run on the queue thread: noexcept,
// no allocation. The backing store is always a fixed file (IOSQE_FIXED_FILE)
// and data always moves through the request's fixed buffer (Request::buf_index):
// the per-tag buffer in copy mode, the request's own pages in zero-copy mode.
#pragma once

#include <liburing.h>

#include <cstdint>

#include "ublk/target.h"

namespace ublk {

// Which backend operation an SQE carries; travels as Completion::target_data.
enum class LoopOp : uint16_t {
  kRw,             // READ_FIXED / WRITE_FIXED
  kFlush,          // fdatasync
  kPunch,          // fallocate PUNCH_HOLE (file discard, or zeroing)
  kZeroRange,      // fallocate ZERO_RANGE (write-zeroes)
  kBlockDiscard,   // BLOCK_URING_CMD_DISCARD on a block device
};

// Where the device lives in the backing store.
struct LoopIoTarget {
  int file_slot = 0;    // fixed-file index of the backing store
  uint64_t offset = 0;  // bytes before the device's first byte
};

// BLOCK_URING_CMD_DISCARD (Linux 6.12): _IO(0x12, 0), in a number space of
// its own; older uapi headers lack it.
inline constexpr uint32_t kBlockUringCmdDiscard = (0x12u << 8) | 0u;

// READ_FIXED or WRITE_FIXED for the part of req after the first `done` bytes.
// A FUA write carries RWF_DSYNC so it is durable when it completes.
void PrepLoopRw(io_uring_sqe* sqe, const LoopIoTarget& t, const Request& req,
                uint32_t done) noexcept;
// fdatasync of the whole backing store.
void PrepLoopFlush(io_uring_sqe* sqe, const LoopIoTarget& t) noexcept;
// fallocate(mode | KEEP_SIZE) over the request's range; mode is
// FALLOC_FL_PUNCH_HOLE or FALLOC_FL_ZERO_RANGE.
void PrepLoopFallocate(io_uring_sqe* sqe, const LoopIoTarget& t,
                       const Request& req, int mode) noexcept;
// Discard of the request's range on a block device.
void PrepLoopBlockDiscard(io_uring_sqe* sqe, const LoopIoTarget& t,
                          const Request& req) noexcept;

// Progress of one read or write, kept per tag by the queue.
struct RwProgress {
  uint32_t done = 0;     // bytes transferred so far
  uint8_t retries = 0;   // -EAGAIN resubmissions so far
};

// What to do after a read/write completion with result `res`.
struct RwStep {
  bool resubmit;  // queue the rest (progress already updated)
  int result;     // when not resubmitting: bytes for the kernel, or -errno
};
// A short transfer resumes where it stopped; zero bytes (end of the backing
// file) is -EIO, never success; -EAGAIN is retried a few times.
RwStep NextRwStep(uint32_t length, int res, RwProgress& p) noexcept;

}  // namespace ublk

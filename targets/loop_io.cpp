#include "loop_io.h"

#include <linux/falloc.h>
#include <linux/fs.h>

#include <cerrno>

#include "ublk/abi.h"

namespace ublk {
namespace {

constexpr uint8_t kMaxRetries = 4;

}  // namespace

void PrepLoopRw(io_uring_sqe* sqe, const LoopIoTarget& t, const Request& req,
                uint32_t done) noexcept {
  // buf_addr is an address (copy) or 0 (zero copy), so resuming after a
  // short transfer is the same addition in both modes.
  void* buf = reinterpret_cast<void*>(req.buf_addr + done);
  const unsigned len = req.length - done;
  const uint64_t off = t.offset + req.offset + done;
  if (req.op == abi::kOpWrite) {
    io_uring_prep_write_fixed(sqe, t.file_slot, buf, len, off, req.buf_index);
    if (req.op_flags & abi::kIoFFua) sqe->rw_flags = RWF_DSYNC;
  } else {
    io_uring_prep_read_fixed(sqe, t.file_slot, buf, len, off, req.buf_index);
  }
  sqe->flags |= IOSQE_FIXED_FILE;
}

void PrepLoopFlush(io_uring_sqe* sqe, const LoopIoTarget& t) noexcept {
  io_uring_prep_fsync(sqe, t.file_slot, IORING_FSYNC_DATASYNC);
  sqe->flags |= IOSQE_FIXED_FILE;
}

void PrepLoopFallocate(io_uring_sqe* sqe, const LoopIoTarget& t,
                       const Request& req, int mode) noexcept {
  io_uring_prep_fallocate(sqe, t.file_slot, mode | FALLOC_FL_KEEP_SIZE,
                          static_cast<off_t>(t.offset + req.offset),
                          static_cast<off_t>(req.length));
  sqe->flags |= IOSQE_FIXED_FILE;
}

void PrepLoopBlockDiscard(io_uring_sqe* sqe, const LoopIoTarget& t,
                          const Request& req) noexcept {
  // liburing 2.3 has no prep helper for it: a plain URING_CMD whose range
  // travels in addr (start) and addr3 (length), both in bytes.
  io_uring_prep_rw(IORING_OP_URING_CMD, sqe, t.file_slot, nullptr, 0, 0);
  sqe->cmd_op = kBlockUringCmdDiscard;
  sqe->addr = t.offset + req.offset;
  sqe->addr3 = req.length;
  sqe->flags |= IOSQE_FIXED_FILE;
}

RwStep NextRwStep(uint32_t length, int res, RwProgress& p) noexcept {
  if (res == -EAGAIN && p.retries < kMaxRetries) {
    ++p.retries;
    return {true, 0};
  }
  if (res < 0) return {false, res};
  if (res == 0) return {false, -EIO};
  const uint32_t left = length - p.done;
  if (static_cast<uint32_t>(res) >= left) return {false, static_cast<int>(length)};
  p.done += static_cast<uint32_t>(res);
  return {true, 0};
}

}  // namespace ublk

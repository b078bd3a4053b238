// io_buf_cmd: the REGISTER_IO_BUF / UNREGISTER_IO_BUF commands (Linux 6.15)
// that lend a ublk request's pages to the queue's ring as fixed buffer
// `slot`, and take them back.
//
// Pure: fills a zeroed SQE, no ring, no syscalls; noexcept, no allocation.
#pragma once

#include <liburing.h>

#include <cstdint>
#include <cstring>

#include "ublk/abi.h"

namespace ublk {

// The ublk char device is always fixed file 0 of a queue's ring.
inline constexpr int kCharFileSlot = 0;

// A uring_cmd on /dev/ublkcN: cmd_op = kIoRegisterIoBuf or kIoUnregisterIoBuf,
// the request named by (queue, tag), the buffer table index in cmd.addr.
inline void PrepIoBufCmd(io_uring_sqe* sqe, uint32_t cmd_op, uint16_t queue,
                         uint16_t tag, uint16_t slot) noexcept {
  sqe->opcode = IORING_OP_URING_CMD;
  sqe->fd = kCharFileSlot;
  sqe->flags = IOSQE_FIXED_FILE;
  sqe->cmd_op = cmd_op;
  abi::IoCmd cmd{};
  cmd.q_id = queue;
  cmd.tag = tag;
  cmd.addr = slot;
  std::memcpy(sqe->cmd, &cmd, sizeof(cmd));
}

}  // namespace ublk

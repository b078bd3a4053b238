// Loop target SQEs, field by field, and how completions advance a request.
#include "loop_io.h"

#include <gtest/gtest.h>
#include <linux/falloc.h>
#include <linux/fs.h>

#include "ublk/abi.h"

namespace ublk {
namespace {

constexpr LoopIoTarget kTarget{3, 1 << 20};

Request Req(uint8_t op, uint64_t offset, uint32_t length, uint32_t flags = 0) {
  static char buffer[1 << 16];
  return Request{7, op, flags, offset, length,
                 reinterpret_cast<uintptr_t>(buffer), 7};
}

io_uring_sqe Fresh() {
  io_uring_sqe sqe;
  std::memset(&sqe, 0, sizeof(sqe));
  return sqe;
}

TEST(LoopIo, ReadUsesTheTagsFixedBufferAndTheFixedFileAtTheDeviceOffset) {
  Request req = Req(abi::kOpRead, 8192, 4096);
  io_uring_sqe sqe = Fresh();
  PrepLoopRw(&sqe, kTarget, req, 0);
  EXPECT_EQ(sqe.opcode, IORING_OP_READ_FIXED);
  EXPECT_EQ(sqe.fd, 3);
  EXPECT_TRUE(sqe.flags & IOSQE_FIXED_FILE);
  EXPECT_EQ(sqe.buf_index, 7);
  EXPECT_EQ(sqe.addr, req.buf_addr);
  EXPECT_EQ(sqe.len, 4096u);
  EXPECT_EQ(sqe.off, (1u << 20) + 8192);
  EXPECT_EQ(sqe.rw_flags, 0);
}

TEST(LoopIo, ResumedWriteStartsWhereTheShortOneStopped) {
  Request req = Req(abi::kOpWrite, 0, 65536);
  io_uring_sqe sqe = Fresh();
  PrepLoopRw(&sqe, kTarget, req, 4096);
  EXPECT_EQ(sqe.opcode, IORING_OP_WRITE_FIXED);
  EXPECT_EQ(sqe.addr, req.buf_addr + 4096);
  EXPECT_EQ(sqe.len, 65536u - 4096);
  EXPECT_EQ(sqe.off, (1u << 20) + 4096);
  EXPECT_EQ(sqe.buf_index, 7);
}

TEST(LoopIo, ZeroCopyAddressesTheRequestBufferByOffsetFromZero) {
  Request req = Req(abi::kOpRead, 0, 65536);
  req.buf_addr = 0;  // zero copy: the slot holds the request's own pages
  io_uring_sqe sqe = Fresh();
  PrepLoopRw(&sqe, kTarget, req, 0);
  EXPECT_EQ(sqe.addr, 0u);
  EXPECT_EQ(sqe.buf_index, 7);
  // A short read resumes at the byte offset into the request, not at an
  // address.
  sqe = Fresh();
  PrepLoopRw(&sqe, kTarget, req, 12288);
  EXPECT_EQ(sqe.addr, 12288u);
  EXPECT_EQ(sqe.len, 65536u - 12288);
  EXPECT_EQ(sqe.off, (1u << 20) + 12288);
}

TEST(LoopIo, HandRegisteredRequestUsesTheSlotTheQueueChose) {
  Request req = Req(abi::kOpWrite, 0, 4096);
  req.buf_addr = 0;
  req.buf_index = 300;  // explicit zero copy: a slot outside the tag range
  io_uring_sqe sqe = Fresh();
  PrepLoopRw(&sqe, kTarget, req, 0);
  EXPECT_EQ(sqe.buf_index, 300);
}

TEST(LoopIo, FuaWriteIsDurableOnCompletionThroughRwfDsync) {
  io_uring_sqe sqe = Fresh();
  PrepLoopRw(&sqe, kTarget, Req(abi::kOpWrite, 0, 512, abi::kIoFFua), 0);
  EXPECT_EQ(sqe.rw_flags, RWF_DSYNC);
}

TEST(LoopIo, FlushIsFdatasyncOfTheFixedFile) {
  io_uring_sqe sqe = Fresh();
  PrepLoopFlush(&sqe, kTarget);
  EXPECT_EQ(sqe.opcode, IORING_OP_FSYNC);
  EXPECT_EQ(sqe.fsync_flags, IORING_FSYNC_DATASYNC);
  EXPECT_EQ(sqe.fd, 3);
  EXPECT_TRUE(sqe.flags & IOSQE_FIXED_FILE);
}

TEST(LoopIo, DiscardAndZeroesOnAFileAreFallocateKeepingTheSize) {
  io_uring_sqe sqe = Fresh();
  PrepLoopFallocate(&sqe, kTarget, Req(abi::kOpDiscard, 4096, 1 << 20),
                    FALLOC_FL_PUNCH_HOLE);
  EXPECT_EQ(sqe.opcode, IORING_OP_FALLOCATE);
  EXPECT_EQ(sqe.len, unsigned{FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE});
  EXPECT_EQ(sqe.off, (1u << 20) + 4096);
  EXPECT_EQ(sqe.addr, 1u << 20);  // fallocate's length travels in addr
  EXPECT_TRUE(sqe.flags & IOSQE_FIXED_FILE);
}

TEST(LoopIo, BlockDiscardIsAUringCmdWithTheByteRangeInAddrAndAddr3) {
  io_uring_sqe sqe = Fresh();
  PrepLoopBlockDiscard(&sqe, kTarget, Req(abi::kOpDiscard, 4096, 8192));
  EXPECT_EQ(sqe.opcode, IORING_OP_URING_CMD);
  EXPECT_EQ(sqe.cmd_op, 0x1200u);  // _IO(0x12, 0)
  EXPECT_EQ(sqe.addr, (1u << 20) + 4096);
  EXPECT_EQ(sqe.addr3, 8192u);
  EXPECT_EQ(sqe.fd, 3);
  EXPECT_TRUE(sqe.flags & IOSQE_FIXED_FILE);
}

TEST(LoopIo, FullTransferCompletesWithTheRequestLength) {
  RwProgress p;
  RwStep s = NextRwStep(8192, 8192, p);
  EXPECT_FALSE(s.resubmit);
  EXPECT_EQ(s.result, 8192);
}

TEST(LoopIo, ShortTransferIsResumedNotReportedAsSuccess) {
  RwProgress p;
  RwStep s = NextRwStep(8192, 4096, p);
  EXPECT_TRUE(s.resubmit);
  EXPECT_EQ(p.done, 4096u);
  s = NextRwStep(8192, 4096, p);
  EXPECT_FALSE(s.resubmit);
  EXPECT_EQ(s.result, 8192);
}

TEST(LoopIo, ZeroBytesPastTheBackingEndIsAnIoError) {
  RwProgress p;
  EXPECT_TRUE(NextRwStep(8192, 512, p).resubmit);
  RwStep s = NextRwStep(8192, 0, p);
  EXPECT_FALSE(s.resubmit);
  EXPECT_EQ(s.result, -EIO);
}

TEST(LoopIo, BackendErrorsPassThroughAndEagainIsRetriedAFewTimes) {
  RwProgress p;
  EXPECT_EQ(NextRwStep(4096, -ENOSPC, p).result, -ENOSPC);
  int retries = 0;
  while (NextRwStep(4096, -EAGAIN, p).resubmit) ++retries;
  EXPECT_GT(retries, 0);
  EXPECT_LT(retries, 10);
  EXPECT_EQ(NextRwStep(4096, -EAGAIN, p).result, -EAGAIN);
}

}  // namespace
}  // namespace ublk

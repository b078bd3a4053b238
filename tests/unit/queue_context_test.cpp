// QueueContext on an ordinary io_uring (no ublk_drv, no root): the SQEs it
// hands a target, the register -> I/O -> unregister chains it builds around
// them, and how it makes room in a nearly full submission queue. The fake
// target queues IORING_OP_NOP SQEs; the test reads the SQEs waiting in the
// ring before they are submitted.
#include "ublk/queue_context.h"

#include <gtest/gtest.h>
#include <liburing.h>

#include <cstring>
#include <vector>

#include "ublk/abi.h"
#include "ublk/user_data.h"

namespace ublk {
namespace {

constexpr uint16_t kQueue = 3;
constexpr uint16_t kDepth = 4;

class TestRing {
 public:
  explicit TestRing(unsigned entries, unsigned flags = 0) {
    ok_ = io_uring_queue_init(entries, &ring_, flags) == 0;
  }
  ~TestRing() {
    if (ok_) io_uring_queue_exit(&ring_);
  }
  TestRing(const TestRing&) = delete;
  TestRing& operator=(const TestRing&) = delete;

  bool ok() const { return ok_; }
  io_uring* get() { return &ring_; }
  unsigned entries() const { return ring_.sq.ring_entries; }

  // The SQEs queued but not yet submitted, oldest first.
  std::vector<io_uring_sqe*> Pending() {
    std::vector<io_uring_sqe*> out;
    const unsigned shift = (ring_.flags & IORING_SETUP_SQE128) ? 1 : 0;
    for (unsigned i = ring_.sq.sqe_head; i != ring_.sq.sqe_tail; ++i)
      out.push_back(&ring_.sq.sqes[(i & ring_.sq.ring_mask) << shift]);
    return out;
  }

  // Queues `n` NOPs that are not the target's (user_data 0).
  void Fill(unsigned n) {
    for (unsigned i = 0; i < n; ++i) {
      io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
      ASSERT_NE(sqe, nullptr);
      io_uring_prep_nop(sqe);
      sqe->user_data = 0;
    }
  }

  // Submits what is queued and reaps `n` completions.
  std::vector<io_uring_cqe> SubmitAndReap(unsigned n) {
    std::vector<io_uring_cqe> out;
    if (io_uring_submit_and_wait(&ring_, n) < 0) return out;
    while (out.size() < n) {
      io_uring_cqe* cqe = nullptr;
      if (io_uring_wait_cqe(&ring_, &cqe) != 0) break;
      out.push_back(*cqe);
      io_uring_cqe_seen(&ring_, cqe);
    }
    return out;
  }

 private:
  io_uring ring_{};
  bool ok_ = false;
};

// What the fake target does with each SQE it gets: a NOP, as a backend I/O
// would be prepared (the prep resets flags, never user_data).
io_uring_sqe* TargetNop(QueueContext& q, uint16_t tag, uint16_t sub_io) {
  io_uring_sqe* sqe = q.GetSqe(tag, sub_io);
  if (sqe != nullptr) io_uring_prep_nop(sqe);
  return sqe;
}

// A target call for `tag` asking for `sqes` SQEs, as the queue wraps it.
void Call(QueueContext& q, uint16_t tag, unsigned sqes, bool chained,
          uint16_t slot = 0) {
  if (chained)
    q.BeginChain(tag, slot);
  else
    q.BeginIo(tag);
  for (unsigned i = 0; i < sqes; ++i)
    ASSERT_NE(TargetNop(q, tag, static_cast<uint16_t>(i)), nullptr);
  EXPECT_EQ(q.EndIo(), chained && sqes > 0);
}

abi::IoCmd CmdOf(const io_uring_sqe* sqe) {
  abi::IoCmd cmd;
  std::memcpy(&cmd, sqe->cmd, sizeof(cmd));
  return cmd;
}

void ExpectBufCmd(const io_uring_sqe* sqe, uint32_t cmd_op, uint16_t tag,
                  uint16_t slot, uint8_t flags) {
  EXPECT_EQ(sqe->opcode, IORING_OP_URING_CMD);
  EXPECT_EQ(sqe->cmd_op, cmd_op);
  EXPECT_EQ(sqe->fd, kCharFileSlot);
  EXPECT_EQ(sqe->flags, flags);
  abi::IoCmd cmd = CmdOf(sqe);
  EXPECT_EQ(cmd.q_id, kQueue);
  EXPECT_EQ(cmd.tag, tag);
  EXPECT_EQ(cmd.addr, slot);
  const uint16_t which = cmd_op == abi::kIoRegisterIoBuf ? 0 : 1;
  EXPECT_EQ(DecodeUserData(sqe->user_data),
            (UserData{tag, UserOp::kBufCmd, which, kQueue}));
}

// Checks that `sqes` is exactly one chain for `tag`: register, `n` target
// SQEs (sub-I/O 0..n-1), unregister, each linked to the next.
void ExpectChain(const std::vector<io_uring_sqe*>& sqes, uint16_t tag,
                 uint16_t slot, unsigned n) {
  ASSERT_EQ(sqes.size(), n + 2);
  ExpectBufCmd(sqes[0], abi::kIoRegisterIoBuf, tag, slot,
               IOSQE_FIXED_FILE | IOSQE_IO_HARDLINK | IOSQE_CQE_SKIP_SUCCESS);
  for (unsigned i = 0; i < n; ++i) {
    SCOPED_TRACE("target SQE " + std::to_string(i));
    EXPECT_EQ(sqes[1 + i]->opcode, IORING_OP_NOP);
    EXPECT_EQ(sqes[1 + i]->flags, IOSQE_IO_HARDLINK);
    EXPECT_EQ(
        DecodeUserData(sqes[1 + i]->user_data),
        (UserData{tag, UserOp::kTarget, static_cast<uint16_t>(i), kQueue}));
  }
  // The end of the chain: linked to nothing after it.
  ExpectBufCmd(sqes[n + 1], abi::kIoUnregisterIoBuf, tag, slot,
               IOSQE_FIXED_FILE | IOSQE_CQE_SKIP_SUCCESS);
}

TEST(QueueContext, TargetSqeIsZeroedAndRoutedToItsTagAndSubIo) {
  TestRing ring(8);
  ASSERT_TRUE(ring.ok());
  QueueContext q(ring.get(), kQueue, kDepth, 64, 1);
  q.BeginIo(2);
  io_uring_sqe* sqe = q.GetSqe(2, 0xbeef);
  ASSERT_NE(sqe, nullptr);
  EXPECT_EQ(sqe->opcode, 0);
  EXPECT_EQ(sqe->flags, 0);
  EXPECT_EQ(DecodeUserData(sqe->user_data),
            (UserData{2, UserOp::kTarget, 0xbeef, kQueue}));
  EXPECT_FALSE(q.EndIo());
  EXPECT_EQ(ring.Pending().size(), 1u);
}

TEST(QueueContext, ChainWrapsATwoSqeTargetInRegisterAndUnregister) {
  TestRing ring(8);
  ASSERT_TRUE(ring.ok());
  QueueContext q(ring.get(), kQueue, kDepth, 64, 2);
  Call(q, 1, 2, /*chained=*/true, /*slot=*/kDepth + 1);
  ExpectChain(ring.Pending(), 1, kDepth + 1, 2);
}

TEST(QueueContext, TargetThatFinishesAtOnceSendsNoChain) {
  TestRing ring(8);
  ASSERT_TRUE(ring.ok());
  QueueContext q(ring.get(), kQueue, kDepth, 64, 2);
  Call(q, 0, 0, /*chained=*/true, kDepth);
  EXPECT_TRUE(ring.Pending().empty());
}

// The bug this guards: the reservation was 3 SQEs whatever sqes_per_io
// said, so with 3 free entries a 2-SQE target's register and I/O went out
// in one submission and the unregister in the next, outside the links.
TEST(QueueContext, ChainOfTwoSqeTargetNeverStraddlesAFlush) {
  TestRing ring(8);
  ASSERT_TRUE(ring.ok());
  QueueContext q(ring.get(), kQueue, kDepth, 64, 2);
  ring.Fill(ring.entries() - 3);
  Call(q, 1, 2, /*chained=*/true, kDepth + 1);
  // The fillers were flushed first; the whole chain waits together.
  ExpectChain(ring.Pending(), 1, kDepth + 1, 2);
  const auto cqes = ring.SubmitAndReap(ring.entries() - 3);
  ASSERT_EQ(cqes.size(), ring.entries() - 3);
  for (const io_uring_cqe& c : cqes) EXPECT_EQ(c.user_data, 0u);
}

// Every fill level of the submission queue, for targets of one to four
// SQEs per I/O: the chain is always whole among the waiting SQEs, and the
// entries queued before it are flushed only when the chain would not fit.
TEST(QueueContext, ChainIsWholeInOneSubmissionAtEveryFillLevel) {
  for (unsigned per_io = 1; per_io <= 4; ++per_io) {
    for (unsigned fill = 0; fill <= 8; ++fill) {
      SCOPED_TRACE("sqes_per_io " + std::to_string(per_io) + ", " +
                   std::to_string(fill) + " entries queued");
      TestRing ring(8);
      ASSERT_TRUE(ring.ok());
      QueueContext q(ring.get(), kQueue, kDepth, 64, per_io);
      ring.Fill(fill);
      Call(q, 2, per_io, /*chained=*/true, 2 * kDepth + 2);
      auto pending = ring.Pending();
      const bool fits = fill + per_io + 2 <= ring.entries();
      ASSERT_EQ(pending.size(), (fits ? fill : 0) + per_io + 2);
      ExpectChain({pending.end() - (per_io + 2), pending.end()}, 2,
                  2 * kDepth + 2, per_io);
    }
  }
}

// A target that links its own SQEs needs them in one submission too.
TEST(QueueContext, PlainIoOfAMultiSqeTargetIsSubmittedTogether) {
  for (unsigned fill = 0; fill <= 8; ++fill) {
    SCOPED_TRACE(std::to_string(fill) + " entries queued");
    TestRing ring(8);
    ASSERT_TRUE(ring.ok());
    QueueContext q(ring.get(), kQueue, kDepth, 64, 3);
    ring.Fill(fill);
    Call(q, 0, 3, /*chained=*/false);
    auto pending = ring.Pending();
    ASSERT_EQ(pending.size(), (fill + 3 <= ring.entries() ? fill : 0) + 3);
    for (unsigned i = 0; i < 3; ++i) {
      const io_uring_sqe* sqe = pending[pending.size() - 3 + i];
      EXPECT_EQ(sqe->flags, 0);  // the context links nothing outside chains
      EXPECT_EQ(
          DecodeUserData(sqe->user_data),
          (UserData{0, UserOp::kTarget, static_cast<uint16_t>(i), kQueue}));
    }
  }
}

// More SQEs than the target declared: inside a chain it gets none rather
// than a flush that would cut the chain; the chain still closes.
TEST(QueueContext, ChainedTargetAskingBeyondItsSqesGetsNoneRatherThanASplit) {
  TestRing ring(8);
  ASSERT_TRUE(ring.ok());
  QueueContext q(ring.get(), kQueue, kDepth, 64, 1);
  ring.Fill(ring.entries() - 3);  // room for exactly one declared chain
  q.BeginChain(1, kDepth + 1);
  ASSERT_NE(TargetNop(q, 1, 0), nullptr);
  EXPECT_EQ(TargetNop(q, 1, 1), nullptr);
  EXPECT_TRUE(q.EndIo());
  auto pending = ring.Pending();
  ASSERT_EQ(pending.size(), ring.entries());
  ExpectChain({pending.end() - 3, pending.end()}, 1, kDepth + 1, 1);
}

// Completions come back with the tag, the queue and the target's own
// sub-I/O number, which is all the queue has to route them.
TEST(QueueContext, CompletionsOfAMultiSqeTargetRouteBackToTheirTags) {
  TestRing ring(16);
  ASSERT_TRUE(ring.ok());
  QueueContext q(ring.get(), kQueue, kDepth, 64, 2);
  for (uint16_t tag = 0; tag < kDepth; ++tag) Call(q, tag, 2, false);
  const auto cqes = ring.SubmitAndReap(2 * kDepth);
  ASSERT_EQ(cqes.size(), 2u * kDepth);
  unsigned seen[kDepth][2] = {};
  for (const io_uring_cqe& c : cqes) {
    const UserData ud = DecodeUserData(c.user_data);
    EXPECT_EQ(c.res, 0);
    EXPECT_EQ(ud.op, UserOp::kTarget);
    EXPECT_EQ(ud.queue, kQueue);
    ASSERT_LT(ud.tag, kDepth);
    ASSERT_LT(ud.target_data, 2);
    ++seen[ud.tag][ud.target_data];
  }
  for (auto& tag : seen) {
    EXPECT_EQ(tag[0], 1u);
    EXPECT_EQ(tag[1], 1u);
  }
}

// Without ublk_drv the buffer commands fail, so they post (success would
// not, CQE_SKIP_SUCCESS); every CQE of the chain still names its tag.
TEST(QueueContext, ChainCompletionsNameTheirTagAndStep) {
  TestRing ring(8);
  ASSERT_TRUE(ring.ok());
  QueueContext q(ring.get(), kQueue, kDepth, 64, 2);
  Call(q, 3, 2, /*chained=*/true, kDepth + 3);
  const auto cqes = ring.SubmitAndReap(4);
  ASSERT_EQ(cqes.size(), 4u);
  unsigned target = 0, buf_cmds = 0;
  for (const io_uring_cqe& c : cqes) {
    const UserData ud = DecodeUserData(c.user_data);
    EXPECT_EQ(ud.tag, 3);
    EXPECT_EQ(ud.queue, kQueue);
    if (ud.op == UserOp::kTarget) {
      ++target;
    } else {
      EXPECT_EQ(ud.op, UserOp::kBufCmd);
      EXPECT_LT(c.res, 0);
      ++buf_cmds;
    }
  }
  EXPECT_EQ(target, 2u);
  EXPECT_EQ(buf_cmds, 2u);
}

// NVMe passthrough rings have 128-byte SQEs; the command area is the second
// half, so the whole entry must start zeroed.
TEST(QueueContext, BigSqesAreZeroedWhole) {
  TestRing ring(8, IORING_SETUP_SQE128);
  if (!ring.ok()) GTEST_SKIP() << "this kernel has no 128-byte SQEs";
  std::memset(ring.get()->sq.sqes, 0xff, 128u * ring.entries());
  QueueContext q(ring.get(), kQueue, kDepth, 128, 1);
  Call(q, 1, 1, /*chained=*/true, kDepth + 1);
  for (io_uring_sqe* sqe : ring.Pending()) {
    const auto* bytes = reinterpret_cast<const unsigned char*>(sqe);
    // Past the fields every SQE sets: the second 64 bytes are all zero.
    for (unsigned i = 64; i < 128; ++i) ASSERT_EQ(bytes[i], 0) << "byte " << i;
  }
}

// User copy: a WRITE's data is read from /dev/ublkcN before the target's
// I/O, linked to it (a soft link: a failed copy cancels the I/O), and the
// target's further SQEs join the link; the last one links to nothing.
TEST(QueueContext, CopyInPrecedesTheTargetSqesLinkedAtEveryFillLevel) {
  for (unsigned per_io = 1; per_io <= 3; ++per_io) {
    for (unsigned fill = 0; fill <= 8; ++fill) {
      SCOPED_TRACE("sqes_per_io " + std::to_string(per_io) + ", " +
                   std::to_string(fill) + " entries queued");
      TestRing ring(8);
      ASSERT_TRUE(ring.ok());
      QueueContext q(ring.get(), kQueue, kDepth, 64, per_io);
      ring.Fill(fill);
      char buf[64];
      const uint64_t off = abi::UserCopyOffset(kQueue, 1, 0);
      q.BeginCopyIn(1, buf, sizeof(buf), off);
      for (unsigned i = 0; i < per_io; ++i)
        ASSERT_NE(TargetNop(q, 1, static_cast<uint16_t>(i)), nullptr);
      EXPECT_EQ(q.CopiesInSent(), 1u);
      EXPECT_FALSE(q.EndIo());
      auto pending = ring.Pending();
      const bool fits = fill + per_io + 1 <= ring.entries();
      ASSERT_EQ(pending.size(), (fits ? fill : 0) + per_io + 1);
      const io_uring_sqe* copy = pending[pending.size() - per_io - 1];
      EXPECT_EQ(copy->opcode, IORING_OP_READ);
      EXPECT_EQ(copy->fd, kCharFileSlot);
      EXPECT_EQ(copy->flags, IOSQE_FIXED_FILE | IOSQE_IO_LINK);
      EXPECT_EQ(copy->off, off);
      EXPECT_EQ(copy->len, sizeof(buf));
      EXPECT_EQ(copy->addr, reinterpret_cast<uintptr_t>(buf));
      EXPECT_EQ(DecodeUserData(copy->user_data),
                (UserData{1, UserOp::kCopy, 0, kQueue}));
      for (unsigned i = 0; i < per_io; ++i) {
        const io_uring_sqe* t = pending[pending.size() - per_io + i];
        EXPECT_EQ(t->opcode, IORING_OP_NOP);
        EXPECT_EQ(t->flags, i + 1 < per_io ? IOSQE_IO_LINK : 0);
      }
    }
  }
}

// INTEGRITY: the request's integrity buffer (offset bit 62) is read into the
// metadata buffer right after its data, in the same link, at any fill level.
TEST(QueueContext, IntegrityCopyInFollowsTheDataCopyInTheSameLink) {
  for (unsigned fill = 0; fill <= 8; ++fill) {
    SCOPED_TRACE(std::to_string(fill) + " entries queued");
    TestRing ring(8);
    ASSERT_TRUE(ring.ok());
    QueueContext q(ring.get(), kQueue, kDepth, 64, 1);
    ring.Fill(fill);
    char buf[64];
    char meta[8];
    const uint64_t off = abi::UserCopyOffset(kQueue, 1, 0);
    const uint64_t meta_off = abi::UserCopyIntegrityOffset(kQueue, 1, 0);
    q.BeginCopyIn(1, buf, sizeof(buf), off, meta, sizeof(meta), meta_off);
    ASSERT_NE(TargetNop(q, 1, 0), nullptr);
    EXPECT_EQ(q.CopiesInSent(), 2u);
    q.EndIo();
    auto pending = ring.Pending();
    ASSERT_GE(pending.size(), 3u);
    const io_uring_sqe* data = pending[pending.size() - 3];
    const io_uring_sqe* integrity = pending[pending.size() - 2];
    EXPECT_EQ(data->off, off);
    EXPECT_EQ(data->flags, IOSQE_FIXED_FILE | IOSQE_IO_LINK);
    EXPECT_EQ(integrity->opcode, IORING_OP_READ);
    EXPECT_EQ(integrity->fd, kCharFileSlot);
    EXPECT_EQ(integrity->off, meta_off);
    EXPECT_EQ(integrity->off & (1ULL << 62), 1ULL << 62);
    EXPECT_EQ(integrity->len, sizeof(meta));
    EXPECT_EQ(integrity->addr, reinterpret_cast<uintptr_t>(meta));
    EXPECT_EQ(integrity->flags, IOSQE_FIXED_FILE | IOSQE_IO_LINK);
    EXPECT_EQ(DecodeUserData(integrity->user_data),
              (UserData{1, UserOp::kCopy, kCopyMetaIn, kQueue}));
    EXPECT_EQ(pending.back()->opcode, IORING_OP_NOP);
    EXPECT_EQ(pending.back()->flags, 0);
  }
}

TEST(QueueContext, CopyInIsNotSentWhenTheTargetFinishesAtOnce) {
  TestRing ring(8);
  ASSERT_TRUE(ring.ok());
  QueueContext q(ring.get(), kQueue, kDepth, 64, 1);
  char buf[8];
  q.BeginCopyIn(0, buf, sizeof(buf), abi::UserCopyOffset(kQueue, 0, 0));
  EXPECT_EQ(q.CopiesInSent(), 0u);
  EXPECT_FALSE(q.EndIo());
  EXPECT_TRUE(ring.Pending().empty());
  // The next call is a plain one again.
  q.BeginIo(0);
  ASSERT_NE(TargetNop(q, 0, 0), nullptr);
  EXPECT_EQ(q.CopiesInSent(), 0u);
  q.EndIo();
  ASSERT_EQ(ring.Pending().size(), 1u);
  EXPECT_EQ(ring.Pending()[0]->opcode, IORING_OP_NOP);
}

}  // namespace
}  // namespace ublk

// Batch commands (UBLK_F_BATCH_IO): the element layouts the kernel expects,
// each field at its offset, and the commit slots' tag accounting (a tag
// waits at most once, a slot is reused only after the kernel answered).
#include "batch_commit.h"

#include <gtest/gtest.h>

#include <cstring>

#include "feature_flags.h"

namespace ublk {
namespace {

template <typename T>
T At(const uint8_t* p, size_t off) {
  T v;
  std::memcpy(&v, p + off, sizeof(v));
  return v;
}

TEST(BatchLayout, ElementLengthFollowsTheOptionalFields) {
  // Zero copy / user copy: the header alone.
  constexpr BatchLayout bare = BatchLayout::For(false, false, false);
  EXPECT_EQ(bare.elem_bytes, 8);
  EXPECT_EQ(bare.flags, 0);
  // Copy mode: a buffer address.
  constexpr BatchLayout copy = BatchLayout::For(true, false, false);
  EXPECT_EQ(copy.elem_bytes, 16);
  EXPECT_EQ(copy.flags, abi::kBatchFHasBufAddr);
  // Zoned, zero copy auto: the zone-append sector and FALLBACK.
  constexpr BatchLayout zoned = BatchLayout::For(false, true, true);
  EXPECT_EQ(zoned.elem_bytes, 16);
  EXPECT_EQ(zoned.flags, abi::kBatchFHasZoneLba | abi::kBatchFAutoBufRegFallback);
  // Both addresses: 24 bytes; FALLBACK never beside an address (the kernel
  // refuses that pair with EINVAL).
  constexpr BatchLayout both = BatchLayout::For(true, true, true);
  EXPECT_EQ(both.elem_bytes, 24);
  EXPECT_EQ(both.flags, abi::kBatchFHasBufAddr | abi::kBatchFHasZoneLba);
}

TEST(BatchLayout, ElementFieldsSitWhereTheKernelReadsThem) {
  uint8_t buf[24];
  std::memset(buf, 0xee, sizeof(buf));
  const BatchLayout both = BatchLayout::For(true, true, false);
  EncodeBatchElem(both, {.tag = 7, .buf_index = 9, .result = -5,
                         .buf_addr = 0x1122334455667788ULL, .zone_lba = 4096},
                  buf);
  EXPECT_EQ(At<uint16_t>(buf, 0), 7);
  EXPECT_EQ(At<uint16_t>(buf, 2), 9);
  EXPECT_EQ(At<int32_t>(buf, 4), -5);
  EXPECT_EQ(At<uint64_t>(buf, 8), 0x1122334455667788ULL);
  EXPECT_EQ(At<uint64_t>(buf, 16), 4096u);

  // Without a buffer address the zone sector moves up, and nothing past
  // the element's end is written.
  std::memset(buf, 0xee, sizeof(buf));
  EncodeBatchElem(BatchLayout::For(false, true, false),
                  {.tag = 1, .result = 4096, .buf_addr = 99, .zone_lba = 8},
                  buf);
  EXPECT_EQ(At<int32_t>(buf, 4), 4096);
  EXPECT_EQ(At<uint64_t>(buf, 8), 8u);
  EXPECT_EQ(buf[16], 0xee);
}

TEST(BatchLayout, HeadersCarryQueueCountAndElementSize) {
  const abi::BatchIo h = BatchHeader(3, BatchLayout::For(true, false, false), 64);
  EXPECT_EQ(h.q_id, 3);
  EXPECT_EQ(h.flags, abi::kBatchFHasBufAddr);
  EXPECT_EQ(h.nr_elem, 64);
  EXPECT_EQ(h.elem_bytes, 16);
  EXPECT_EQ(h.reserved, 0);
  EXPECT_EQ(h.reserved2, 0u);
  // The fetch takes two-byte tags and no flags, whatever the device.
  const abi::BatchIo f = FetchHeader(1, 8192);
  EXPECT_EQ(f.q_id, 1);
  EXPECT_EQ(f.flags, 0);
  EXPECT_EQ(f.elem_bytes, 2);
  EXPECT_EQ(f.nr_elem, 8192);
  EXPECT_EQ(abi::kIoPrepIoCmds, 0xC0107525u);
  EXPECT_EQ(abi::kIoCommitIoCmds, 0xC0107526u);
  EXPECT_EQ(abi::kIoFetchIoCmds, 0xC0107527u);
}

TEST(CommitBatches, APassesResultsGoOutInOneBatch) {
  CommitBatches c;
  c.Reset(4, BatchLayout::For(false, false, false));
  EXPECT_EQ(c.Take().count, 0);  // nothing to send
  ASSERT_TRUE(c.Add({.tag = 2, .result = 512}));
  ASSERT_TRUE(c.Add({.tag = 0, .result = -5}));
  const CommitBatches::Batch b = c.Take();
  ASSERT_EQ(b.count, 2);
  EXPECT_EQ(b.bytes, 16u);
  EXPECT_EQ(At<uint16_t>(b.data, 0), 2);
  EXPECT_EQ(At<int32_t>(b.data, 4), 512);
  EXPECT_EQ(At<uint16_t>(b.data, 8), 0);
  EXPECT_EQ(At<int32_t>(b.data, 12), -5);
  EXPECT_EQ(c.pending(), 0);
  EXPECT_EQ(c.in_flight(), 1u);
  EXPECT_TRUE(c.Done(b.slot));
  EXPECT_FALSE(c.Done(b.slot));  // answered twice: refused
  EXPECT_EQ(c.in_flight(), 0u);
}

TEST(CommitBatches, ATagWaitsAtMostOnceAndOnlyInRange) {
  CommitBatches c;
  c.Reset(4, BatchLayout::For(true, false, false));
  ASSERT_TRUE(c.Add({.tag = 1}));
  EXPECT_TRUE(c.waiting(1));
  EXPECT_FALSE(c.Add({.tag = 1}));  // finished twice before its commit
  EXPECT_FALSE(c.Add({.tag = 4}));  // past the depth
  EXPECT_EQ(c.pending(), 1);
  // Once handed over, the kernel may deliver it again and it may wait
  // again, in the next batch.
  const CommitBatches::Batch b = c.Take();
  EXPECT_FALSE(c.waiting(1));
  EXPECT_TRUE(c.Add({.tag = 1}));
  EXPECT_EQ(c.TagAt(b.slot, 0), 1);
}

TEST(CommitBatches, ElementsPastARefusedOneAreQueuedAgainAsTheyWere) {
  CommitBatches c;
  c.Reset(4, BatchLayout::For(true, false, false));
  ASSERT_TRUE(c.Add({.tag = 0, .result = 1, .buf_addr = 0x1000}));
  ASSERT_TRUE(c.Add({.tag = 3, .result = 2, .buf_addr = 0x3000}));
  ASSERT_TRUE(c.Add({.tag = 2, .result = -5, .buf_addr = 0x2000}));
  const CommitBatches::Batch b = c.Take();
  // The kernel took element 0 and refused element 1: element 2 again.
  EXPECT_FALSE(c.Requeue(b.slot, 3));  // past the batch
  ASSERT_TRUE(c.Requeue(b.slot, 2));
  EXPECT_FALSE(c.Requeue(b.slot, 2));  // already waiting
  EXPECT_TRUE(c.Done(b.slot));
  const CommitBatches::Batch again = c.Take();
  ASSERT_EQ(again.count, 1);
  EXPECT_EQ(At<uint16_t>(again.data, 0), 2);
  EXPECT_EQ(At<int32_t>(again.data, 4), -5);
  EXPECT_EQ(At<uint64_t>(again.data, 8), 0x2000u);
}

TEST(CommitBatches, ASlotIsReusedOnlyAfterTheKernelAnswered) {
  CommitBatches c;
  const uint16_t depth = 8;
  c.Reset(depth, BatchLayout::For(false, false, false));
  uint8_t sent[CommitBatches::kSlots];
  // Every slot but the open one in flight: the next Take waits, and the
  // open slot keeps collecting (up to the depth, never more).
  for (unsigned i = 0; i + 1 < CommitBatches::kSlots; ++i) {
    ASSERT_TRUE(c.Add({.tag = static_cast<uint16_t>(i)}));
    const CommitBatches::Batch b = c.Take();
    ASSERT_EQ(b.count, 1);
    sent[i] = b.slot;
  }
  for (uint16_t t = 2; t < depth; ++t) ASSERT_TRUE(c.Add({.tag = t}));
  EXPECT_EQ(c.Take().count, 0);
  EXPECT_EQ(c.pending(), depth - 2);
  ASSERT_TRUE(c.Done(sent[0]));
  const CommitBatches::Batch b = c.Take();
  EXPECT_EQ(b.count, depth - 2);
  for (unsigned i = 0; i < CommitBatches::kSlots; ++i)
    EXPECT_TRUE(i == b.slot || i == sent[1] || !c.Done(i));
}

TEST(BatchFlags, OnlyAskingSelectsItAndAskingIsChecked) {
  DeviceSpec s;
  // Not asked: the per-tag commands, batch not having measured ahead.
  EXPECT_EQ(*BatchFlags(abi::kFBatchIo, s), 0u);
  EXPECT_EQ(*BatchFlags(0, s), 0u);
  s.batch = Batch::kOff;
  EXPECT_EQ(*BatchFlags(abi::kFBatchIo, s), 0u);
  s.batch = Batch::kOn;
  EXPECT_EQ(*BatchFlags(abi::kFBatchIo, s), abi::kFBatchIo);
  auto r = BatchFlags(0, s);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("UBLK_F_BATCH_IO (Linux 7.0"),
            std::string::npos);
  s.need_get_data = true;
  EXPECT_FALSE(BatchFlags(abi::kFBatchIo, s).ok());
}

}  // namespace
}  // namespace ublk

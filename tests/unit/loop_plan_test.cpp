// Loop target decisions: option validation, geometry, O_DIRECT and what the
// device may advertise, from probed facts without any file.
#include "loop_plan.h"

#include <gtest/gtest.h>

namespace ublk {
namespace {

LoopOptions LoopSpec() { return LoopOptions{}; }

// An ext4 file: O_DIRECT with 512-byte alignment, holes can be punched.
BackingFacts Ext4File(uint64_t size = 1ULL << 30) {
  BackingFacts f;
  f.size = size;
  f.writable = true;
  f.direct_ok = true;
  f.dio_offset_align = 512;
  f.dio_mem_align = 512;
  f.physical_block = 4096;
  f.can_discard = true;
  f.discard_granularity = 4096;
  return f;
}

// A 4k-native NVMe namespace without a volatile write cache.
BackingFacts Nvme4k() {
  BackingFacts f;
  f.is_block = true;
  f.size = 1ULL << 30;
  f.writable = true;
  f.direct_ok = true;
  f.dio_offset_align = 4096;
  f.dio_mem_align = 4;
  f.logical_block = 4096;
  f.physical_block = 4096;
  f.io_opt = 128 << 10;
  f.write_back_cache = false;
  f.can_discard = true;
  f.discard_granularity = 4096;
  f.can_zero = true;
  return f;
}

std::string ErrorOf(const LoopOptions& s, const BackingFacts& f) {
  auto r = PlanLoop(s, f, "/img");
  return r.ok() ? "" : r.error().message();
}

TEST(LoopPlan, SizeDefaultsToTheBackingStoreAfterTheOffsetInWholeBlocks) {
  LoopOptions s = LoopSpec();
  s.offset = 1 << 20;
  auto p = PlanLoop(s, Ext4File((64 << 20) + 300), "/img");
  ASSERT_TRUE(p.ok()) << p.error().message();
  EXPECT_EQ(p->geometry.size_bytes, 63u << 20);
  EXPECT_EQ(p->offset, 1u << 20);
}

TEST(LoopPlan, ExplicitSizeIsUsedWhenItFits) {
  LoopOptions s = LoopSpec();
  s.size = 32 << 20;
  auto p = PlanLoop(s, Ext4File(), "/img");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->geometry.size_bytes, 32u << 20);
}

TEST(LoopPlan, BadSizesAndOffsetsAreRefusedWithOneLineNamingTheOption) {
  LoopOptions s = LoopSpec();
  s.offset = 1000;
  EXPECT_NE(ErrorOf(s, Ext4File()).find("--offset 1000 is not a multiple of"),
            std::string::npos);
  s.offset = 2ULL << 30;
  EXPECT_NE(ErrorOf(s, Ext4File()).find("--offset 2147483648 is past the end of /img"),
            std::string::npos);
  s = LoopSpec();
  s.size = 2ULL << 30;
  EXPECT_NE(ErrorOf(s, Ext4File()).find("--size 2147483648 is larger than /img"),
            std::string::npos);
  s = LoopSpec();
  s.logical_block_size = 4096;
  s.size = 4096 + 512;
  EXPECT_NE(ErrorOf(s, Ext4File()).find("multiple of the logical block size 4096"),
            std::string::npos);
  s = LoopSpec();
  s.logical_block_size = 1024;
  EXPECT_NE(ErrorOf(s, Ext4File()).find("512 or 4096"), std::string::npos);
  EXPECT_EQ(ErrorOf(s, Ext4File()).find('\n'), std::string::npos);
}

TEST(LoopPlan, FileSmallerThanOneBlockIsRefused) {
  EXPECT_NE(ErrorOf(LoopSpec(), Ext4File(100)).find("smaller than one 512-byte block"),
            std::string::npos);
  LoopOptions s = LoopSpec();
  s.logical_block_size = 4096;
  EXPECT_NE(ErrorOf(s, Ext4File(4000)).find("smaller than one 4096-byte block"),
            std::string::npos);
}

TEST(LoopPlan, DirectIoAsksRequestsAlignedToTheBlockSizeForZeroCopy) {
  auto plan = PlanLoop(LoopSpec(), Ext4File(), "/img");
  ASSERT_TRUE(plan.ok()) << plan.error().message();
  EXPECT_EQ(plan->geometry.dma_alignment, 511u);
  LoopOptions spec = LoopSpec();
  spec.logical_block_size = 4096;
  plan = PlanLoop(spec, Nvme4k(), "/dev/nvme0n1");
  ASSERT_TRUE(plan.ok()) << plan.error().message();
  EXPECT_EQ(plan->geometry.dma_alignment, 4095u);
  spec = LoopSpec();
  spec.buffered = true;  // the page cache takes any alignment
  plan = PlanLoop(spec, Ext4File(), "/img");
  ASSERT_TRUE(plan.ok()) << plan.error().message();
  EXPECT_EQ(plan->geometry.dma_alignment, 0u);
}

TEST(LoopPlan, Ext4FileGetsDirectIoAVolatileCacheFuaDiscardAndZeroes) {
  auto p = PlanLoop(LoopSpec(), Ext4File(), "/img");
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(p->direct) << p->buffered_reason;
  // O_DIRECT on a file still leaves allocations in the file system's cache.
  EXPECT_TRUE(p->geometry.volatile_cache);
  EXPECT_TRUE(p->geometry.fua);
  EXPECT_TRUE(p->geometry.discard);
  EXPECT_TRUE(p->file_discard);
  EXPECT_FALSE(p->block_discard);
  EXPECT_TRUE(p->geometry.write_zeroes);
  EXPECT_EQ(p->zero, ZeroMethod::kFileRanges);
  EXPECT_EQ(p->geometry.logical_bs_shift, 9);
  EXPECT_EQ(p->geometry.physical_bs_shift, 12);
}

TEST(LoopPlan, BufferedWhenAskedOrWhenAlignmentForbidsDirectIo) {
  LoopOptions s = LoopSpec();
  s.buffered = true;
  EXPECT_EQ(WhyNotDirect(s, Ext4File(), 4096), "--buffered was given");
  BackingFacts tmpfs = Ext4File();
  tmpfs.dio_offset_align = 0;  // statx did not say
  EXPECT_NE(WhyNotDirect(LoopSpec(), tmpfs, 4096).find("does not report"),
            std::string::npos);
  s = LoopSpec();
  s.logical_block_size = 4096;
  EXPECT_EQ(WhyNotDirect(s, tmpfs, 4096), "");
  EXPECT_NE(WhyNotDirect(LoopSpec(), Nvme4k(), 4096)
                .find("logical block size 512 is smaller than the backing "
                      "store's direct I/O alignment 4096"),
            std::string::npos);
  s.offset = 512;
  s.logical_block_size = 512;
  BackingFacts f = Ext4File();
  f.dio_offset_align = 4096;
  EXPECT_NE(WhyNotDirect(s, f, 4096).find("direct I/O alignment"),
            std::string::npos);
  f = Ext4File();
  f.direct_ok = false;
  EXPECT_NE(WhyNotDirect(LoopSpec(), f, 4096).find("does not support O_DIRECT"),
            std::string::npos);
}

TEST(LoopPlan, BlockDeviceWithoutWriteCacheNeedsNoFlushesWithDirectIo) {
  LoopOptions s = LoopSpec();
  s.logical_block_size = 4096;
  auto p = PlanLoop(s, Nvme4k(), "/dev/nvme0n1");
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(p->direct);
  EXPECT_FALSE(p->geometry.volatile_cache);
  EXPECT_FALSE(p->geometry.fua);
  EXPECT_TRUE(p->block_discard);
  EXPECT_EQ(p->zero, ZeroMethod::kBlockZeroRange);
  EXPECT_EQ(p->geometry.logical_bs_shift, 12);
  EXPECT_EQ(p->geometry.io_opt_shift, 17);
  // Buffered I/O goes through the page cache: flushes needed again.
  s.buffered = true;
  EXPECT_TRUE(PlanLoop(s, Nvme4k(), "/dev/nvme0n1")->geometry.volatile_cache);
}

TEST(LoopPlan, BlockDeviceWithLargerSectorsGetsNoDiscardOrZeroesIn512Blocks) {
  auto p = PlanLoop(LoopSpec(), Nvme4k(), "/dev/nvme0n1");
  ASSERT_TRUE(p.ok());
  EXPECT_FALSE(p->direct);
  EXPECT_FALSE(p->geometry.discard);
  EXPECT_FALSE(p->geometry.write_zeroes);
  EXPECT_EQ(p->geometry.logical_bs_shift, 9);
  EXPECT_EQ(p->geometry.physical_bs_shift, 12);
}

TEST(LoopPlan, ReadOnlyAdvertisesNoCacheDiscardOrZeroes) {
  LoopOptions s = LoopSpec();
  s.read_only = true;
  auto p = PlanLoop(s, Ext4File(), "/img");
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(p->geometry.read_only);
  EXPECT_FALSE(p->geometry.volatile_cache);
  EXPECT_FALSE(p->geometry.discard);
  EXPECT_FALSE(p->geometry.write_zeroes);
  BackingFacts f = Ext4File();
  f.writable = false;  // the store refused a read-write open
  EXPECT_TRUE(PlanLoop(LoopSpec(), f, "/img")->geometry.read_only);
}

TEST(LoopPlan, FileSystemWithoutHolePunchingGetsNoDiscard) {
  BackingFacts f = Ext4File();
  f.can_discard = false;
  auto p = PlanLoop(LoopSpec(), f, "/img");
  ASSERT_TRUE(p.ok());
  EXPECT_FALSE(p->geometry.discard);
  EXPECT_FALSE(p->geometry.write_zeroes);
  EXPECT_EQ(p->zero, ZeroMethod::kNone);
}

}  // namespace
}  // namespace ublk

namespace ublk {
namespace {

TEST(LoopOptions, LeftOutOptionsTakeTheTableDefaults) {
  DeviceSpec spec;
  spec.type = "loop";
  spec.file = "/img";
  const LoopOptions o = LoopOptionsOf(spec);
  EXPECT_EQ(o.offset, 0u);
  EXPECT_EQ(o.logical_block_size, 512u);
  EXPECT_FALSE(o.buffered);
  EXPECT_FALSE(o.read_only);
  EXPECT_FALSE(o.size.has_value());
}

TEST(LoopOptions, GivenOptionsReachTheTypedStruct) {
  DeviceSpec spec;
  spec.type = "loop";
  spec.file = "/img";
  spec.size = 1 << 20;
  spec.read_only = true;
  spec.options.Set("offset", uint64_t{4096});
  spec.options.Set("logical-block-size", uint64_t{4096});
  spec.options.Set("buffered", true);
  const LoopOptions o = LoopOptionsOf(spec);
  EXPECT_EQ(o.offset, 4096u);
  EXPECT_EQ(o.logical_block_size, 4096u);
  EXPECT_TRUE(o.buffered);
  EXPECT_TRUE(o.read_only);
  EXPECT_EQ(o.size, 1u << 20);
}

}  // namespace
}  // namespace ublk

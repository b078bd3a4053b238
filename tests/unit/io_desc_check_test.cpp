// CheckIoDesc: crafted descriptors, as a hostile or buggy kernel could write
// them, never reach a target.
#include "io_desc_check.h"

#include <gtest/gtest.h>

#include <cerrno>

namespace ublk {
namespace {

constexpr uint64_t kDev = 1ull << 30;  // 1 GiB
constexpr uint32_t kMaxIo = 512u << 10;
constexpr IoDescLimits kLimits{.dev_bytes = kDev, .max_io_bytes = kMaxIo};

abi::IoDesc Desc(uint8_t op, uint64_t start, uint32_t sectors,
                 uint32_t flags = 0) {
  abi::IoDesc d{};
  d.op_flags = op | flags;
  d.start_sector = start;
  d.nr_sectors = sectors;
  return d;
}

int Check(const abi::IoDesc& d, CheckedIo* io = nullptr) {
  CheckedIo local;
  return CheckIoDesc(d, kLimits, io ? io : &local);
}

TEST(IoDescCheck, ReadInsideTheDeviceIsDecodedToBytes) {
  CheckedIo io;
  ASSERT_EQ(Check(Desc(abi::kOpRead, 8, 16, abi::kIoFFua), &io), 0);
  EXPECT_EQ(io.op, abi::kOpRead);
  EXPECT_EQ(io.op_flags, abi::kIoFFua);
  EXPECT_EQ(io.offset, 8u * 512);
  EXPECT_EQ(io.length, 16u * 512);
}

TEST(IoDescCheck, LastSectorOfTheDeviceIsAccepted) {
  EXPECT_EQ(Check(Desc(abi::kOpWrite, kDev / 512 - 1, 1)), 0);
  EXPECT_EQ(Check(Desc(abi::kOpRead, kDev / 512 - kMaxIo / 512, kMaxIo / 512)),
            0);
}

TEST(IoDescCheck, RangeEndingPastTheDeviceFailsWithEio) {
  EXPECT_EQ(Check(Desc(abi::kOpWrite, kDev / 512 - 1, 2)), -EIO);
  EXPECT_EQ(Check(Desc(abi::kOpRead, kDev / 512, 1)), -EIO);
}

TEST(IoDescCheck, StartSectorBeyondTheDeviceFailsWithEio) {
  EXPECT_EQ(Check(Desc(abi::kOpRead, kDev / 512 + 1, 1)), -EIO);
  EXPECT_EQ(Check(Desc(abi::kOpDiscard, UINT64_MAX, 8)), -EIO);
}

// A start sector whose byte offset wraps past 2^64 back into the device
// (1 << 55 sectors is byte 0 modulo 2^64) must not pass as sector 0.
TEST(IoDescCheck, StartSectorThatWrapsWhenShiftedFailsWithEio) {
  EXPECT_EQ(Check(Desc(abi::kOpRead, 1ull << 55, 8)), -EIO);
  EXPECT_EQ(Check(Desc(abi::kOpWrite, (1ull << 55) + 1, 8)), -EIO);
}

TEST(IoDescCheck, DataRequestLongerThanThePerTagBufferFailsWithEio) {
  EXPECT_EQ(Check(Desc(abi::kOpRead, 0, kMaxIo / 512 + 1)), -EIO);
  EXPECT_EQ(Check(Desc(abi::kOpWrite, 0, kMaxIo / 512 + 1)), -EIO);
}

// Before the check, the nvme target turned an empty READ into a command for
// 65,536 blocks (NLB is zero-based) and loop answered it with 0 bytes.
TEST(IoDescCheck, ZeroLengthReadFailsWithEio) {
  EXPECT_EQ(Check(Desc(abi::kOpRead, 0, 0)), -EIO);
  EXPECT_EQ(Check(Desc(abi::kOpRead, 8, 0, abi::kIoFFua)), -EIO);
}

TEST(IoDescCheck, ZeroLengthWriteFailsWithEio) {
  EXPECT_EQ(Check(Desc(abi::kOpWrite, 0, 0)), -EIO);
  EXPECT_EQ(Check(Desc(abi::kOpWrite, kDev / 512 - 1, 0)), -EIO);
}

TEST(IoDescCheck, LengthThatOverflowsThirtyTwoBitsFailsWithEio) {
  EXPECT_EQ(Check(Desc(abi::kOpDiscard, 0, UINT32_MAX)), -EIO);
  EXPECT_EQ(Check(Desc(abi::kOpWriteZeroes, 0, (UINT32_MAX >> 9) + 1)), -EIO);
}

// The kernel sends FLUSH with start_sector all-ones and no length.
TEST(IoDescCheck, FlushWithAllOnesStartSectorIsAccepted) {
  CheckedIo io;
  ASSERT_EQ(Check(Desc(abi::kOpFlush, UINT64_MAX, 0), &io), 0);
  EXPECT_EQ(io.op, abi::kOpFlush);
  EXPECT_EQ(io.offset, 0u);
  EXPECT_EQ(io.length, 0u);
}

// Discard and write-zeroes carry no data, so the per-tag buffer does not
// bound them; the device does.
TEST(IoDescCheck, DiscardLongerThanTheBufferButInsideTheDeviceIsAccepted) {
  CheckedIo io;
  ASSERT_EQ(Check(Desc(abi::kOpDiscard, 0, 1u << 20), &io), 0);
  EXPECT_EQ(io.length, 512u << 20);
  EXPECT_EQ(Check(Desc(abi::kOpWriteZeroes, 2048, 1u << 20)), 0);
  EXPECT_EQ(Check(Desc(abi::kOpWriteZeroes, kDev / 512 - 8, 16)), -EIO);
  EXPECT_EQ(Check(Desc(abi::kOpDiscard, kDev / 512, 1)), -EIO);
}

TEST(IoDescCheck, EmptyDeviceAcceptsNothingButFlush) {
  CheckedIo io;
  const IoDescLimits empty{.dev_bytes = 0, .max_io_bytes = kMaxIo};
  EXPECT_EQ(CheckIoDesc(Desc(abi::kOpRead, 0, 1), empty, &io), -EIO);
  EXPECT_EQ(CheckIoDesc(Desc(abi::kOpFlush, UINT64_MAX, 0), empty, &io), 0);
}

}  // namespace
}  // namespace ublk

namespace ublk {
namespace {

// REPORT_ZONES counts zones, not sectors, in nr_sectors.
TEST(IoDescCheck, ReportZonesLengthIsZoneEntriesCutToTheBuffer) {
  CheckedIo io;
  ASSERT_EQ(Check(Desc(abi::kOpReportZones, 1u << 17, 16), &io), 0);
  EXPECT_EQ(io.length, 16u * 64);
  EXPECT_EQ(io.offset, (1ull << 17) * 512);
  ASSERT_EQ(Check(Desc(abi::kOpReportZones, 0, 1u << 20), &io), 0);
  EXPECT_EQ(io.length, kMaxIo);
  EXPECT_EQ(Check(Desc(abi::kOpReportZones, kDev / 512, 1)), -EIO);
  EXPECT_EQ(Check(Desc(abi::kOpReportZones, 0, 0)), -EIO);
}

}  // namespace
}  // namespace ublk

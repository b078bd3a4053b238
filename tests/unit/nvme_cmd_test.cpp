// NVMe passthrough commands are built dword by dword without a device.
#include "nvme_cmd.h"

#include <gtest/gtest.h>

#include <cerrno>

#include "nvme_probe.h"

namespace ublk::nvme {
namespace {

TEST(NvmeCmd, ReadCarriesSlbaSplitAcrossCdw10And11AndZeroBasedCount) {
  UringCmd c = BuildReadWrite(false, 1, 0x123456789aULL, 8, 0xdead000, 4096,
                              false);
  EXPECT_EQ(c.opcode, kOpRead);
  EXPECT_EQ(c.nsid, 1u);
  EXPECT_EQ(c.addr, 0xdead000u);
  EXPECT_EQ(c.data_len, 4096u);
  EXPECT_EQ(c.cdw10, 0x3456789au);
  EXPECT_EQ(c.cdw11, 0x12u);
  EXPECT_EQ(c.cdw12, 7u);
  EXPECT_EQ(c.cdw13, 0u);
  EXPECT_EQ(c.cdw14, 0u);
  EXPECT_EQ(c.cdw15, 0u);
  EXPECT_EQ(c.metadata, 0u);
  EXPECT_EQ(c.metadata_len, 0u);
  EXPECT_EQ(c.timeout_ms, 0u);
  EXPECT_EQ(c.flags, 0u);
}

TEST(NvmeCmd, FuaWriteSetsBit30OfCdw12) {
  UringCmd c = BuildReadWrite(true, 2, 0, 1, 0, 512, true);
  EXPECT_EQ(c.opcode, kOpWrite);
  EXPECT_EQ(c.cdw12, kCdw12Fua | 0u);
  c = BuildReadWrite(true, 2, 0, 65536, 0, 65536u * 512, false);
  EXPECT_EQ(c.cdw12, 0xffffu);  // 65536 blocks is NLB 0xffff
}

TEST(NvmeCmd, FlushHasOnlyOpcodeAndNamespace) {
  UringCmd c = BuildFlush(3);
  EXPECT_EQ(c.opcode, kOpFlush);
  EXPECT_EQ(c.nsid, 3u);
  EXPECT_EQ(c.addr, 0u);
  EXPECT_EQ(c.data_len, 0u);
  EXPECT_EQ(c.cdw10 | c.cdw11 | c.cdw12, 0u);
}

TEST(NvmeCmd, WriteZeroesDeallocatesUnlessNoUnmap) {
  UringCmd c = BuildWriteZeroes(1, 100, 16, true);
  EXPECT_EQ(c.opcode, kOpWriteZeroes);
  EXPECT_EQ(c.cdw10, 100u);
  EXPECT_EQ(c.cdw12, kCdw12Deallocate | 15u);
  EXPECT_EQ(c.data_len, 0u);
  EXPECT_EQ(BuildWriteZeroes(1, 100, 16, false).cdw12, 15u);
}

TEST(NvmeCmd, DeallocateSendsOneOneBasedRange) {
  DsmRange r{};
  UringCmd c = BuildDeallocate(1, 0x100000000ULL, 1u << 20, &r);
  EXPECT_EQ(c.opcode, kOpDatasetMgmt);
  EXPECT_EQ(c.cdw10, 0u);  // one range
  EXPECT_EQ(c.cdw11, kDsmDeallocate);
  EXPECT_EQ(c.addr, reinterpret_cast<uintptr_t>(&r));
  EXPECT_EQ(c.data_len, 16u);
  EXPECT_EQ(r.slba, 0x100000000ULL);
  EXPECT_EQ(r.nlb, 1u << 20);
  EXPECT_EQ(r.cattr, 0u);
}

TEST(NvmeStatus, MapsToTheErrnoThatGivesTheRightBlockStatus) {
  EXPECT_EQ(StatusToErrno(0), 0);
  EXPECT_EQ(StatusToErrno(-EIO), -EIO);          // errno passes through
  EXPECT_EQ(StatusToErrno(0x0001), -EOPNOTSUPP); // invalid opcode
  EXPECT_EQ(StatusToErrno(0x0002), -EINVAL);     // invalid field
  EXPECT_EQ(StatusToErrno(0x0004), -EIO);        // data transfer error
  EXPECT_EQ(StatusToErrno(0x0080), -EREMOTEIO);  // LBA out of range
  EXPECT_EQ(StatusToErrno(0x0081), -ENOSPC);     // capacity exceeded
  EXPECT_EQ(StatusToErrno(0x0083), -EBADE);      // reservation conflict
  EXPECT_EQ(StatusToErrno(0x0280), -EIO);        // write fault
  EXPECT_EQ(StatusToErrno(0x0281), -ENODATA);    // unrecovered read error
  EXPECT_EQ(StatusToErrno(0x0282), -EILSEQ);     // guard check
  EXPECT_EQ(StatusToErrno(0x0286), -EACCES);     // access denied
  EXPECT_EQ(StatusToErrno(0x0300), -ENOLINK);    // path error
  EXPECT_EQ(StatusToErrno(0x4281), -ENODATA);    // DNR bit does not matter
  EXPECT_EQ(StatusToErrno(0x0181), -EIO);        // command specific
}

TEST(NvmeStatus, ZoneResourceErrorsKeepTheirBlockStatus) {
  EXPECT_EQ(StatusToErrno(0x01bd), -EOVERFLOW);     // too many active zones
  EXPECT_EQ(StatusToErrno(0x01be), -ETOOMANYREFS);  // too many open zones
  EXPECT_EQ(StatusToErrno(0x01b9), -EIO);           // zone is full
  EXPECT_EQ(StatusToErrno(0x01bc), -EIO);           // zone invalid write
}

TEST(NvmeProbe, MapsBlockNamesToGenericCharNames) {
  EXPECT_EQ(GenericNameForBlock("nvme0n1"), "ng0n1");
  EXPECT_EQ(GenericNameForBlock("nvme12n3"), "ng12n3");
  EXPECT_EQ(GenericNameForBlock("nvme0n1p1"), "");  // a partition
  EXPECT_EQ(GenericNameForBlock("nvme0"), "");
  EXPECT_EQ(GenericNameForBlock("sda"), "");
}

TEST(NvmeProbe, LbaFormatIndexSpansLowAndHighBits) {
  EXPECT_EQ(LbaFormatIndex(0x00), 0u);
  EXPECT_EQ(LbaFormatIndex(0x04), 4u);
  EXPECT_EQ(LbaFormatIndex(0x10), 0u);  // bit 4 is "extended LBA", not index
  EXPECT_EQ(LbaFormatIndex(0x21), 17u);
  EXPECT_EQ(LbaFormatIndex(0x6f), 63u);
}

TEST(NvmeProbe, CommandSetComesFromTheCsiDescriptor) {
  // EUI-64 (type 1, 8 bytes), NGUID (type 2, 16 bytes), then CSI (type 4).
  uint8_t list[64] = {};
  list[0] = 1, list[1] = 8;
  list[12] = 2, list[13] = 16;
  list[32] = 4, list[33] = 1, list[36] = 2;
  EXPECT_EQ(CommandSetOf(list, sizeof(list)), 2);
  list[36] = 0;
  EXPECT_EQ(CommandSetOf(list, sizeof(list)), 0);
}

TEST(NvmeProbe, ListsWithoutCsiOrCutShortNameNoCommandSet) {
  uint8_t list[16] = {};
  EXPECT_EQ(CommandSetOf(list, sizeof(list)), -1);  // empty list
  list[0] = 1, list[1] = 8;
  EXPECT_EQ(CommandSetOf(list, sizeof(list)), -1);  // EUI-64 only
  list[0] = 4, list[1] = 200;                       // longer than the list
  EXPECT_EQ(CommandSetOf(list, sizeof(list)), -1);
}

}  // namespace
}  // namespace ublk::nvme

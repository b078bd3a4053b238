#include "nvme_zoned.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "ublk/abi.h"

namespace ublk::nvme {
namespace {

// 96 MiB zones of 4 KiB blocks in a 1 GiB namespace: ten whole zones.
ZoneMap NinetySix() { return MakeZoneMap(12, 96u << 8, 1u << 18); }

TEST(NvmeZoned, PowerOfTwoZonesMapOneToOne) {
  const ZoneMap m = MakeZoneMap(9, 1u << 17, 1u << 21);  // 64 MiB zones
  EXPECT_EQ(m.zone_sectors, 1u << 17);
  EXPECT_EQ(m.zones, 16u);
  EXPECT_EQ(DeviceBytes(m), 1ull << 30);
  uint64_t room = 0;
  EXPECT_EQ(SectorToLba(m, (3u << 17) + 8, &room), (3u << 17) + 8);
  EXPECT_EQ(room, (1u << 17) - 8);
  EXPECT_EQ(LbaToSector(m, (5u << 17) + 1), (5u << 17) + 1);
}

TEST(NvmeZoned, NonPowerOfTwoZoneIsRoundedUpAndRemapped) {
  const ZoneMap m = NinetySix();
  EXPECT_EQ(m.zone_sectors, 128u << 11);  // 128 MiB advertised
  EXPECT_EQ(RealZoneSectors(m), 96u << 11);
  EXPECT_EQ(m.zones, 10u);
  EXPECT_EQ(DeviceBytes(m), 10ull << 27);
  uint64_t room = 0;
  // Zone 2, 1 MiB in: LBA 2 * 96 MiB + 1 MiB in 4 KiB blocks.
  const uint64_t sector = 2 * m.zone_sectors + 2048;
  EXPECT_EQ(SectorToLba(m, sector, &room), 2u * (96u << 8) + 256);
  EXPECT_EQ(room, (96u << 11) - 2048);
  EXPECT_EQ(LbaToSector(m, 2u * (96u << 8) + 256), sector);
  // The rounded-up tail has no room.
  SectorToLba(m, 2 * m.zone_sectors + (100u << 11), &room);
  EXPECT_EQ(room, 0u);
}

TEST(NvmeZoned, ZoneLimitsAreOneBasedAndAllOnesMeansNone) {
  EXPECT_EQ(ZoneLimit(3), 4u);
  EXPECT_EQ(ZoneLimit(0xffffffff), 0u);
  EXPECT_EQ(ZoneAppendBytes(0, 1u << 19), 1u << 19);  // 0: MDTS
  EXPECT_EQ(ZoneAppendBytes(5, 1u << 20), 128u << 10);
  EXPECT_EQ(ZoneAppendBytes(8, 1u << 19), 1u << 19);
}

TEST(NvmeZoned, CommandsCarryTheirFields) {
  UringCmd s = BuildZoneMgmtSend(1, 0x100000000ull + 7, kZsaFinish, false);
  EXPECT_EQ(s.opcode, 0x79);
  EXPECT_EQ(s.cdw10, 7u);
  EXPECT_EQ(s.cdw11, 1u);
  EXPECT_EQ(s.cdw13, 2u);
  EXPECT_EQ(BuildZoneMgmtSend(1, 0, kZsaReset, true).cdw13, 4u | (1u << 8));
  UringCmd r = BuildZoneMgmtRecv(1, 64, 0x1000, 4096);
  EXPECT_EQ(r.opcode, 0x7a);
  EXPECT_EQ(r.cdw12, 1023u);
  EXPECT_EQ(r.cdw13, 1u << 16);  // report all, partial
  EXPECT_EQ(r.data_len, 4096u);
  UringCmd a = BuildZoneAppend(1, 1u << 17, 16, 0x2000, 8192, false);
  EXPECT_EQ(a.opcode, 0x7d);
  EXPECT_EQ(a.cdw10, 1u << 17);
  EXPECT_EQ(a.cdw12, 15u);
}

void PutDesc(std::vector<uint8_t>& buf, unsigned i, uint8_t state,
             uint64_t zcap, uint64_t zslba, uint64_t wp) {
  uint8_t* d = buf.data() + 64 * (i + 1);
  d[0] = 2;  // sequential write required
  d[1] = static_cast<uint8_t>(state << 4);
  std::memcpy(d + 8, &zcap, 8);
  std::memcpy(d + 16, &zslba, 8);
  std::memcpy(d + 24, &wp, 8);
}

TEST(NvmeZoned, ReportBecomesBlkZonesInDeviceSectors) {
  const ZoneMap m = NinetySix();
  const uint64_t zb = m.zone_blocks;
  std::vector<uint8_t> buf(64 * 5, 0xaa);
  const uint64_t count = 2;
  std::memcpy(buf.data(), &count, 8);
  PutDesc(buf, 0, 2, zb, zb, zb + 16);    // implicitly open, 64 KiB written
  PutDesc(buf, 1, 0xe, zb, 2 * zb, 2 * zb);  // full
  EXPECT_EQ(TranslateZoneReport(m, buf.data(), 3, 4), 3u * 64);
  abi::BlkZone z[3];
  std::memcpy(z, buf.data(), sizeof(z));
  EXPECT_EQ(z[0].start, m.zone_sectors);
  EXPECT_EQ(z[0].len, m.zone_sectors);
  EXPECT_EQ(z[0].wp, m.zone_sectors + 128);
  EXPECT_EQ(z[0].type, abi::kZoneTypeSeqWriteRequired);
  EXPECT_EQ(z[0].cond, 2);
  EXPECT_EQ(z[0].capacity, 96u << 11);
  EXPECT_EQ(z[1].start, 2 * m.zone_sectors);
  EXPECT_EQ(z[1].wp, 3 * m.zone_sectors);  // a full zone ends at its end
  EXPECT_EQ(z[1].cond, abi::kZoneCondFull);
  EXPECT_EQ(z[2].len, 0u);  // the end of the answer
}

TEST(NvmeZoned, FullReportNeedsNoEndEntry) {
  const ZoneMap m = MakeZoneMap(9, 1u << 17, 1u << 21);
  std::vector<uint8_t> buf(64 * 3);
  const uint64_t count = 2;
  std::memcpy(buf.data(), &count, 8);
  PutDesc(buf, 0, 1, 1u << 16, 0, 0);
  PutDesc(buf, 1, 1, 1u << 16, 1u << 17, 1u << 17);
  EXPECT_EQ(TranslateZoneReport(m, buf.data(), 2, 2), 2u * 64);
  abi::BlkZone z;
  std::memcpy(&z, buf.data() + 64, sizeof(z));
  EXPECT_EQ(z.start, 1u << 17);
  EXPECT_EQ(z.capacity, 1u << 16);  // a zone capacity below the zone size
}

}  // namespace
}  // namespace ublk::nvme

#include "nvme_zoned.h"

#include <algorithm>
#include <bit>
#include <cstring>

#include "ublk/abi.h"

namespace ublk::nvme {
namespace {

uint64_t Le64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof(v));  // little endian on every host we build for
  return v;
}

}  // namespace

ZoneMap MakeZoneMap(uint8_t lba_shift, uint64_t zone_blocks,
                    uint64_t ns_blocks) {
  ZoneMap m;
  m.lba_shift = lba_shift;
  m.zone_blocks = zone_blocks;
  m.zone_sectors = std::bit_ceil(zone_blocks << (lba_shift - 9));
  m.zones = ns_blocks / zone_blocks;
  return m;
}

uint64_t SectorToLba(const ZoneMap& m, uint64_t sector, uint64_t* room) {
  const uint64_t zone = sector / m.zone_sectors;
  const uint64_t off = sector % m.zone_sectors;
  const uint64_t real = RealZoneSectors(m);
  *room = off < real ? real - off : 0;
  return zone * m.zone_blocks + (std::min(off, real) >> (m.lba_shift - 9));
}

uint64_t LbaToSector(const ZoneMap& m, uint64_t lba) {
  return lba / m.zone_blocks * m.zone_sectors +
         ((lba % m.zone_blocks) << (m.lba_shift - 9));
}

uint32_t ZoneAppendBytes(uint8_t zasl, uint32_t max_io_bytes) {
  if (zasl == 0 || zasl > 20) return max_io_bytes;
  return std::min<uint32_t>(4096u << zasl, max_io_bytes);
}

UringCmd BuildZoneMgmtSend(uint32_t nsid, uint64_t zslba, uint8_t action,
                           bool all) {
  UringCmd c{};
  c.opcode = kOpZoneMgmtSend;
  c.nsid = nsid;
  c.cdw10 = static_cast<uint32_t>(zslba);
  c.cdw11 = static_cast<uint32_t>(zslba >> 32);
  c.cdw13 = action | (all ? kZoneSelectAll : 0);
  return c;
}

UringCmd BuildZoneMgmtRecv(uint32_t nsid, uint64_t slba, uint64_t addr,
                           uint32_t bytes) {
  UringCmd c{};
  c.opcode = kOpZoneMgmtRecv;
  c.nsid = nsid;
  c.addr = addr;
  c.data_len = bytes;
  c.cdw10 = static_cast<uint32_t>(slba);
  c.cdw11 = static_cast<uint32_t>(slba >> 32);
  c.cdw12 = bytes / 4 - 1;  // NUMD, 0-based dwords
  c.cdw13 = 1u << 16;       // ZRA report zones, all of them, partial count
  return c;
}

UringCmd BuildZoneAppend(uint32_t nsid, uint64_t zslba, uint32_t blocks,
                         uint64_t addr, uint32_t bytes, bool fua) {
  UringCmd c = BuildReadWrite(true, nsid, zslba, blocks, addr, bytes, fua);
  c.opcode = kOpZoneAppend;
  return c;
}

uint32_t TranslateZoneReport(const ZoneMap& m, uint8_t* buf, uint32_t sent,
                             uint32_t wanted) {
  const uint64_t count = std::min<uint64_t>(Le64(buf), sent);
  const uint64_t real = RealZoneSectors(m);
  const unsigned to_sectors = m.lba_shift - 9;
  // Entry i moves from 64 * (i + 1) to 64 * i: each descriptor is read
  // before the next entry overwrites it.
  for (uint64_t i = 0; i < count; ++i) {
    const uint8_t* d = buf + kZoneReportEntry * (i + 1);
    const uint8_t zt = d[0] & 0x0f, zs = d[1] >> 4;
    const uint64_t zcap = Le64(d + 8) << to_sectors;
    const uint64_t zslba = Le64(d + 16), wp = Le64(d + 24);
    abi::BlkZone z{};
    z.start = LbaToSector(m, zslba);
    z.len = m.zone_sectors;
    z.type = zt == 2 ? abi::kZoneTypeSeqWriteRequired : zt;
    z.cond = zs;  // the NVMe zone states are the kernel's conditions
    z.capacity = std::min(zcap, real);
    // A full zone's write pointer is not valid in NVMe; the kernel's
    // driver puts it at the zone's end.
    z.wp = zs == abi::kZoneCondFull ? z.start + z.len
                                    : z.start + ((wp - zslba) << to_sectors);
    std::memcpy(buf + kZoneReportEntry * i, &z, sizeof(z));
  }
  if (count < wanted) {
    std::memset(buf + kZoneReportEntry * count, 0, kZoneReportEntry);
    return static_cast<uint32_t>(kZoneReportEntry * (count + 1));
  }
  return static_cast<uint32_t>(kZoneReportEntry * count);
}

}  // namespace ublk::nvme

// Zoned (ZNS) namespaces served as host-managed zoned ublk devices.
//
// The kernel wants a power-of-two zone size (chunk_sectors). A namespace
// whose zones are not a power of two is shown with the next power of two as
// its zone size, each zone's capacity being the namespace's real zone size
// (or its zone capacity, when smaller); device sectors map to namespace LBAs
// zone by zone (ZoneMap). Everything here is pure: the commands are built,
// not sent, and the report is translated in memory.
#pragma once

#include <cstdint>

#include "nvme_cmd.h"

namespace ublk::nvme {

inline constexpr uint8_t kOpZoneMgmtSend = 0x79;
inline constexpr uint8_t kOpZoneMgmtRecv = 0x7a;
inline constexpr uint8_t kOpZoneAppend = 0x7d;
// Zone Send Actions (CDW13 bits 7:0).
inline constexpr uint8_t kZsaClose = 1;
inline constexpr uint8_t kZsaFinish = 2;
inline constexpr uint8_t kZsaOpen = 3;
inline constexpr uint8_t kZsaReset = 4;
inline constexpr uint32_t kZoneSelectAll = 1u << 8;
// A Zone Management Receive answer: a 64-byte header (le64 number of
// zones), then one 64-byte descriptor per zone.
inline constexpr uint32_t kZoneReportEntry = 64;

// Where the device's zones sit in the namespace.
struct ZoneMap {
  uint8_t lba_shift = 9;
  uint64_t zone_blocks = 0;   // the namespace's zone size, in LBAs
  uint64_t zone_sectors = 0;  // the device's (power of two), 512-byte sectors
  uint64_t zones = 0;
};

// zone_blocks must be non-zero. Zones: the whole zones the namespace holds.
ZoneMap MakeZoneMap(uint8_t lba_shift, uint64_t zone_blocks,
                    uint64_t ns_blocks);
inline uint64_t DeviceBytes(const ZoneMap& m) { return m.zones * m.zone_sectors << 9; }
// The sectors of a zone that hold data (the rest of a rounded-up zone is
// beyond its capacity).
inline uint64_t RealZoneSectors(const ZoneMap& m) {
  return m.zone_blocks << (m.lba_shift - 9);
}

// Device sector -> namespace LBA. *room: how many sectors from there on
// are still inside the namespace's zone (0: in the rounded-up tail).
uint64_t SectorToLba(const ZoneMap& m, uint64_t sector, uint64_t* room);
// Namespace LBA -> device sector (write pointers, zone-append results).
uint64_t LbaToSector(const ZoneMap& m, uint64_t lba);

// The 0-based MOR/MAR of Identify Namespace as the kernel's limit:
// 0xffffffff (no limit) -> 0.
inline uint32_t ZoneLimit(uint32_t zero_based) { return zero_based + 1; }
// Zone append limit in bytes: ZASL (a power of two in 4 KiB units; 0 means
// MDTS), never more than max_io_bytes.
uint32_t ZoneAppendBytes(uint8_t zasl, uint32_t max_io_bytes);

UringCmd BuildZoneMgmtSend(uint32_t nsid, uint64_t zslba, uint8_t action,
                           bool all);
// A report of all zones from the one holding `slba`, into `bytes` of
// `addr` (header included); the count is of the returned zones (partial).
UringCmd BuildZoneMgmtRecv(uint32_t nsid, uint64_t slba, uint64_t addr,
                           uint32_t bytes);
UringCmd BuildZoneAppend(uint32_t nsid, uint64_t zslba, uint32_t blocks,
                         uint64_t addr, uint32_t bytes, bool fua);

// Rewrites a Zone Management Receive answer in `buf`, asked for `sent`
// zones, into abi::BlkZone entries from its start, in device sectors, for
// a kernel that asked for `wanted` (>= sent) zones: when fewer than wanted
// came, a zeroed entry follows the last (the kernel's buffer is not
// zeroed). Returns the bytes to hand the kernel. `buf` holds at least
// (sent + 1) * 64 and wanted * 64 bytes.
uint32_t TranslateZoneReport(const ZoneMap& m, uint8_t* buf, uint32_t sent,
                             uint32_t wanted);

}  // namespace ublk::nvme

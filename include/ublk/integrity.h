// IntegrityProfile: the metadata a device carries per logical block and the
// protection information in it, as the block layer's integrity profile
// (ublk INTEGRITY params, Linux 7.0). Plain value; any thread.
#pragma once

#include <cstdint>
#include <string>

#include "ublk/abi.h"

namespace ublk {

struct IntegrityProfile {
  uint8_t metadata_size = 0;  // bytes per logical block; 0: no metadata
  uint8_t pi_offset = 0;      // of the PI tuple in the metadata
  uint8_t csum_type = 0;      // abi::kPiCsum*; kPiCsumNone: opaque metadata
  uint8_t tag_size = 0;       // bytes of application-owned tag
  uint32_t flags = 0;         // abi::kPiCap*
};

// The name /sys/block/*/integrity/format shows for the profile
// ("T10-DIF-TYPE1-CRC", "EXT-DIF-TYPE3-CRC64", "nop"), or "none" without
// metadata.
inline std::string IntegrityFormatName(const IntegrityProfile& p) {
  if (p.metadata_size == 0) return "none";
  const bool type1 = p.flags & abi::kPiCapRefTag;
  switch (p.csum_type) {
    case abi::kPiCsumIp:
      return type1 ? "T10-DIF-TYPE1-IP" : "T10-DIF-TYPE3-IP";
    case abi::kPiCsumCrc16T10Dif:
      return type1 ? "T10-DIF-TYPE1-CRC" : "T10-DIF-TYPE3-CRC";
    case abi::kPiCsumCrc64Nvme:
      return type1 ? "EXT-DIF-TYPE1-CRC64" : "EXT-DIF-TYPE3-CRC64";
    default:
      return "nop";
  }
}

}  // namespace ublk

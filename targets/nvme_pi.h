// The metadata format of an NVMe namespace and what it means for the ublk
// device and for each Read/Write (pure functions, unit-tested).
//
// From Identify Namespace (the LBA format's MS, FLBAS bit 4, DPS) and, where
// the controller has extended LBA formats, the NVM command set's ELBAF
// (protection information format, storage tag size), DescribePi decides
// whether the namespace can be served: metadata in a separate buffer, 8 or
// 16 bytes per block, no PI or PI type 1/2/3 with a 16-bit guard (8-byte
// tuple) or a 64-bit guard (16-byte tuple), no storage tag. The ublk device
// then registers the integrity profile the kernel's NVMe driver would
// (ProfileFor), and every Read/Write carries the PRINFO bits the kernel
// driver would set (ProtectionFor).
#pragma once

#include <cstdint>
#include <string>

#include "nvme_cmd.h"
#include "ublk/result.h"
#include "ublk/target.h"

namespace ublk::nvme {

struct PiFormat {
  uint8_t ms = 0;           // metadata bytes per block; 0: none
  uint8_t pi_type = 0;      // 0: none (opaque metadata), 1, 2 or 3
  bool pi_first = false;    // DPS bit 3: PI in the first bytes of metadata
  bool guard64 = false;     // 64-bit guard (CRC64), 16-byte tuple
  uint8_t pi_size() const { return pi_type == 0 ? 0 : guard64 ? 16 : 8; }
  uint8_t pi_offset() const {
    return pi_type == 0 || pi_first ? 0 : static_cast<uint8_t>(ms - pi_size());
  }
};

// What Identify reported for the namespace's current format.
struct FormatFacts {
  uint16_t ms = 0;        // LBA format's metadata size
  bool extended = false;  // FLBAS bit 4: metadata interleaved with data
  uint8_t dps = 0;        // Identify Namespace DPS byte
  uint8_t pif = 0;        // ELBAF protection information format (0: 16b)
  uint8_t sts = 0;        // ELBAF storage tag size (bits)
};

// The namespace's metadata format, or one line naming `path` and what is
// not served.
Result<PiFormat> DescribePi(const FormatFacts& f, const std::string& path);

// The ublk integrity profile the kernel NVMe driver registers for it:
// metadata size, PI offset, CRC16 (T10-DIF) or CRC64 guard, application
// tag size (2 for type 1/2, 6 or 8 for type 3 by guard), REF tag for type
// 1/2, device-capable whenever there is PI. No PI: opaque ("nop").
IntegrityProfile ProfileFor(const PiFormat& pi);

// Protection fields of one Read/Write.
struct Protection {
  uint32_t cdw12 = 0;       // PRINFO bits (kCdw12Pr*)
  bool metadata = false;    // send a metadata buffer
  bool ref_tag = false;     // put the LBA's reference tag in the command
};
// `payload`: the request brings its own integrity buffer. With it the
// controller checks the guard (any PI) and the reference tag (type 1/2),
// as the block layer generated them. Without one, a namespace whose
// metadata is only PI has the controller insert/strip it (PRACT), as the
// kernel driver does; any other metadata goes to a scratch buffer.
Protection ProtectionFor(const PiFormat& pi, bool payload);

// Adds metadata (`meta_addr`, `meta_len` bytes, a user address) and the
// protection fields to a Read/Write built for `slba`.
void ApplyProtection(UringCmd* cmd, const PiFormat& pi,
                     const Protection& p, uint64_t slba, uint64_t meta_addr,
                     uint32_t meta_len);

}  // namespace ublk::nvme

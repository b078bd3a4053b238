// Validation of a kernel-supplied I/O descriptor before a target sees it.
//
// The descriptor array is shared memory written by ublk_drv; the server does
// not trust it with memory or with the device's bounds. CheckIoDesc is pure
// (no allocation, no exceptions, no locks), so a queue thread calls it on
// every request and unit tests feed it crafted descriptors.
#pragma once

#include <cstdint>

#include "ublk/abi.h"

namespace ublk {

struct IoDescLimits {
  uint64_t dev_bytes = 0;     // the device's size
  uint32_t max_io_bytes = 0;  // the per-tag buffer (max I/O size)
};

// A descriptor decoded into byte units.
struct CheckedIo {
  uint8_t op = 0;         // abi::kOp*
  uint32_t op_flags = 0;  // flags above the op byte, unshifted
  uint64_t offset = 0;    // bytes from the device start; 0 for FLUSH
  uint32_t length = 0;    // bytes
};

// Whether an op carries a sector range. FLUSH does not: blk-mq hands it over
// with start_sector all-ones, so it must not be range-checked.
constexpr bool OpHasRange(uint8_t op) { return op != abi::kOpFlush; }
// Whether an op moves data through a buffer (discard and write-zeroes have a
// range but no data).
constexpr bool OpHasData(uint8_t op) {
  return op == abi::kOpRead || op == abi::kOpWrite ||
         op == abi::kOpZoneAppend;
}

// Decodes `desc` into *out. Returns 0, or -EIO when the request's range
// falls outside the device, its length does not fit in 32 bits of bytes, or
// a data-carrying request (READ, WRITE) is empty or longer than the per-tag
// buffer. REPORT_ZONES counts zones in nr_sectors: its length is that many
// 64-byte entries, cut to what the buffer holds (a shorter answer is
// valid), its start inside the device. *out is filled
// either way (for logging); on -EIO it must not be used for I/O.
int CheckIoDesc(const abi::IoDesc& desc, const IoDescLimits& limits,
                CheckedIo* out) noexcept;

}  // namespace ublk

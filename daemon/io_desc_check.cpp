#include "io_desc_check.h"

#include <algorithm>
#include <cerrno>

namespace ublk {

int CheckIoDesc(const abi::IoDesc& desc, const IoDescLimits& limits,
                CheckedIo* out) noexcept {
  constexpr uint64_t kMaxSectorForBytes = UINT64_MAX >> 9;
  out->op = abi::DescOp(desc);
  out->op_flags = desc.op_flags & ~0xffu;
  out->offset = 0;
  out->length = 0;
  if (out->op == abi::kOpReportZones) {
    const uint64_t entries = std::min<uint64_t>(
        desc.nr_sectors, limits.max_io_bytes / sizeof(abi::BlkZone));
    if (entries == 0 || desc.start_sector > kMaxSectorForBytes ||
        (desc.start_sector << 9) >= limits.dev_bytes)
      return -EIO;
    out->length = static_cast<uint32_t>(entries * sizeof(abi::BlkZone));
    out->offset = desc.start_sector << 9;
    return 0;
  }
  // nr_sectors is 32 bits; in bytes it must still fit Request::length.
  if (desc.nr_sectors > (UINT32_MAX >> 9)) return -EIO;
  out->length = desc.nr_sectors << 9;
  // blk-mq never sends an empty READ or WRITE; a target handed one would
  // turn it into something else (an NVMe NLB of 0 means 65,536 blocks).
  if (OpHasData(out->op) &&
      (out->length == 0 || out->length > limits.max_io_bytes))
    return -EIO;
  if (!OpHasRange(out->op)) return 0;
  // Shifting first would wrap a huge start sector back into range.
  if (desc.start_sector > kMaxSectorForBytes) return -EIO;
  out->offset = desc.start_sector << 9;
  if (out->offset > limits.dev_bytes ||
      out->length > limits.dev_bytes - out->offset)
    return -EIO;
  return 0;
}

}  // namespace ublk

#include "params.h"

#include <algorithm>

namespace ublk {

abi::Params BuildParams(const DeviceGeometry& g, uint32_t max_io_bytes,
                        bool zero_copy) {
  abi::Params p{};
  p.len = sizeof(p);
  p.types = abi::kParamTypeBasic;
  auto& b = p.basic;
  if (g.read_only) b.attrs |= abi::kAttrReadOnly;
  if (g.rotational) b.attrs |= abi::kAttrRotational;
  if (g.volatile_cache) {
    b.attrs |= abi::kAttrVolatileCache;
    if (g.fua) b.attrs |= abi::kAttrFua;
  }
  b.logical_bs_shift = g.logical_bs_shift;
  b.physical_bs_shift = g.physical_bs_shift;
  b.io_opt_shift = g.io_opt_shift;
  b.io_min_shift = g.io_min_shift;
  b.max_sectors = max_io_bytes >> 9;
  b.dev_sectors = g.size_bytes >> 9;

  if (g.discard || g.write_zeroes) {
    p.types |= abi::kParamTypeDiscard;
    auto& d = p.discard;
    d.discard_granularity = g.discard_granularity;
    // Requests carry their length in bytes as 32 bits: stay below 4 GiB.
    constexpr uint32_t kMaxSectors = (UINT32_MAX >> 9) & ~7u;
    auto limit = [](uint32_t backend) {
      return backend != 0 && backend < kMaxSectors ? backend : kMaxSectors;
    };
    if (g.discard) {
      d.max_discard_sectors = limit(g.max_discard_sectors);
      d.max_discard_segments = 1;
    }
    if (g.write_zeroes)
      d.max_write_zeroes_sectors = limit(g.max_write_zeroes_sectors);
  }
  if (zero_copy) {
    b.virt_boundary_mask = g.virt_boundary_mask;
    if (g.dma_alignment != 0) {
      p.types |= abi::kParamTypeDmaAlign;
      p.dma.alignment = g.dma_alignment;
    }
    if (g.max_segments != 0) {
      p.types |= abi::kParamTypeSegment;
      // The kernel's defaults for what the backend leaves open: no segment
      // boundary below 4 GiB, segments of any size. Zero is never valid.
      p.seg.seg_boundary_mask = UINT32_MAX;
      p.seg.max_segment_size =
          g.max_segment_size == 0 ? UINT32_MAX
                                  : std::max<uint32_t>(g.max_segment_size, 4096);
      p.seg.max_segments = g.max_segments;
    }
  }
  if (g.integrity.metadata_size != 0) {
    // One protection interval per logical block, as NVMe formats have it.
    p.types |= abi::kParamTypeIntegrity;
    auto& i = p.integrity;
    i.flags = g.integrity.flags;
    i.interval_exp = g.logical_bs_shift;
    i.metadata_size = g.integrity.metadata_size;
    i.pi_offset = g.integrity.pi_offset;
    i.csum_type = g.integrity.csum_type;
    i.tag_size = g.integrity.tag_size;
    // The queue copies the whole buffer with one read or write, whatever
    // its segments: no limit.
    i.max_integrity_segments = 0;
  }
  if (g.zoned.zone_sectors != 0) {
    p.types |= abi::kParamTypeZoned;
    b.chunk_sectors = g.zoned.zone_sectors;
    p.zoned.max_open_zones = g.zoned.max_open;
    p.zoned.max_active_zones = g.zoned.max_active;
    // Never 0 (the kernel refuses it) nor more than one request holds.
    const uint32_t append = g.zoned.max_append_sectors;
    p.zoned.max_zone_append_sectors =
        append == 0 || append > b.max_sectors ? b.max_sectors : append;
  }
  return p;
}

}  // namespace ublk

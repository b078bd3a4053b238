// Building ublk parameters from a target's geometry (pure, unit-tested).
#pragma once

#include <cstdint>

#include "ublk/abi.h"
#include "ublk/target.h"

namespace ublk {

// BASIC always; DISCARD when the target discards or zeroes. max_io_bytes is
// the negotiated per-request limit (caps max_sectors). With zero_copy the
// backend's DMA constraints become the device's (virt boundary, DMA_ALIGN,
// SEGMENT; the last two exist since 6.15, as zero copy does), so the block
// layer shapes every request the way the backend takes it and no request
// has to be bounced on its way there. INTEGRITY when the geometry carries
// metadata (the caller has made sure the device has UBLK_F_INTEGRITY).
abi::Params BuildParams(const DeviceGeometry& geometry, uint32_t max_io_bytes,
                        bool zero_copy);

}  // namespace ublk

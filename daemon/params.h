// Building ublk parameters from a target's geometry (pure, unit-tested).
#pragma once

#include <cstdint>

#include "ublk/abi.h"
#include "ublk/target.h"

namespace ublk {

// BASIC always; DISCARD when the target discards or zeroes. max_io_bytes is
// the negotiated per-request limit (caps max_sectors).
abi::Params BuildParams(const DeviceGeometry& geometry, uint32_t max_io_bytes);

}  // namespace ublk

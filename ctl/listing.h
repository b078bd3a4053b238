// One device as `ublk list` and `ublk add` print it: the reference server's
// layout (which scripts written for it parse), then this server's own lines;
// and as `list --json` describes it.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "control_device.h"
#include "device_state.h"
#include "ublk/abi.h"
#include "ublk/integrity.h"
#include "ublk/result.h"

namespace ublk {

// The kernel's info, and the state file when it could be read.
struct Row {
  abi::DevInfo info;
  Result<DeviceState> state;
  std::string backing_error;  // the recorded backing file no longer matches
  // The kernel's INTEGRITY params (IntegrityOf); metadata_size 0: none.
  IntegrityProfile integrity = {};
  // The kernel's ZONED params (ZonesOf); zone_bytes 0: not zoned.
  struct Zones {
    uint64_t zone_bytes = 0;
    uint64_t zones = 0;
    uint32_t max_open = 0;  // 0: no limit
    uint32_t max_active = 0;
    uint64_t append_bytes = 0;
  } zones = {};
};

// The device's zones from its params; zone_bytes 0 when it is not zoned or
// they cannot be read.
Row::Zones ZonesOf(ControlDevice& control, uint32_t id);

// The device's integrity profile from its params (GET_PARAMS); no metadata
// when it has none or they cannot be read.
IntegrityProfile IntegrityOf(ControlDevice& control, uint32_t id);

nlohmann::json Describe(const Row& row);
void PrintDevice(ControlDevice& control, const Row& row);

// add and recover: device `id` as list prints it, from a fresh look at the
// kernel and the state file; false when it cannot be read.
bool PrintDeviceById(uint32_t id);

}  // namespace ublk

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
};

// The device's integrity profile from its params (GET_PARAMS); no metadata
// when it has none or they cannot be read.
IntegrityProfile IntegrityOf(ControlDevice& control, uint32_t id);

nlohmann::json Describe(const Row& row);
void PrintDevice(ControlDevice& control, const Row& row);

// add and recover: device `id` as list prints it, from a fresh look at the
// kernel and the state file; false when it cannot be read.
bool PrintDeviceById(uint32_t id);

}  // namespace ublk

// State files: /run/ublk/<id>.json, one per device with a running server.
//
// Written by the server once its device is live, atomically (a temporary
// file renamed over the old one), removed when the server stops; kept when
// a device made with user recovery outlives its server. `list`, `del` and
// `recover` read them. The directory is created root-owned
// 0755. Reads validate the content and report a corrupt file as an Error.
#pragma once

#include <cstdint>
#include <string>

#include "spec_json.h"
#include "ublk/result.h"

namespace ublk {

inline constexpr const char* kDefaultStateDir = "/run/ublk";

// $UBLK_STATE_DIR when set (tests), else /run/ublk.
std::string StateDir();
std::string StatePath(const std::string& dir, uint32_t dev_id);

Result<void> WriteState(const std::string& dir, const DeviceState& state);
// ENOENT when there is none (check error().code()).
Result<DeviceState> ReadState(const std::string& dir, uint32_t dev_id);
void RemoveState(const std::string& dir, uint32_t dev_id);

}  // namespace ublk

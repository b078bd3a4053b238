// JSON forms of DeviceSpec and of the per-device state file (DeviceState).
//
// Conversion never throws: parsing checks every field's type and range (and
// that the target type is one the registry knows) and returns an Error naming
// the first bad field. A spec's target options are the object "options",
// keyed by option name and typed by the target's table (a spec without it,
// from before targets declared their options, had loop's options at its top
// level and is read as such); the spec as a whole must then pass
// CheckSpecOptions (option_table.h), like the command line's.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "device_state.h"
#include "ublk/result.h"
#include "ublk/spec.h"

namespace ublk {

// "best" / "off" / "auto" / "explicit", as the state file spells them.
const char* ZeroCopyName(ZeroCopy z);
std::optional<ZeroCopy> ParseZeroCopy(std::string_view name);

// "off" / "reissue" / "fail-io", as the command line and state file spell them.
const char* RecoveryName(Recovery r);
std::optional<Recovery> ParseRecovery(std::string_view name);

nlohmann::json SpecToJson(const DeviceSpec& spec);
Result<DeviceSpec> SpecFromJson(const nlohmann::json& j);

nlohmann::json StateToJson(const DeviceState& state);
Result<DeviceState> StateFromJson(const nlohmann::json& j);

// Parses text into JSON without throwing; `what` names the source in errors.
Result<nlohmann::json> ParseJson(std::string_view text, const std::string& what);

}  // namespace ublk

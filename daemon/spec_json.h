// JSON forms of DeviceSpec and of the per-device state file.
//
// Conversion never throws: parsing checks every field's type and range (and
// that the target type is one the registry knows) and returns an Error naming
// the first bad field. A spec's target options are the object "options",
// keyed by option name and typed by the target's table (a spec without it,
// from before targets declared their options, had loop's options at its top
// level and is read as such); the spec as a whole must then pass
// CheckSpecOptions (option_table.h), like the command line's.
#pragma once

#include <sys/types.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

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

// Which file a backing path named when the device was added, so a later
// reader can tell that the path still names the same file (backing_file.h).
// Block and char devices are identified by their device number (rdev), other
// files by the filesystem's (dev) and their inode number (ino).
struct BackingIdentity {
  enum class Kind : uint8_t { kFile, kBlock, kChar };
  Kind kind = Kind::kFile;
  uint64_t dev = 0;   // st_dev (kFile)
  uint64_t ino = 0;   // st_ino (kFile)
  uint64_t rdev = 0;  // st_rdev (kBlock, kChar)
  uint64_t size = 0;  // bytes: st_size, a block device's size; 0 for kChar

  friend bool operator==(const BackingIdentity&,
                         const BackingIdentity&) = default;
};

// What a running server records in /run/ublk/<id>.json.
struct DeviceState {
  DeviceSpec spec;
  uint32_t dev_id = 0;
  pid_t pid = 0;           // the server (opener of /dev/ublkcN)
  uint64_t flags = 0;      // negotiated UBLK_F_* bits
  std::string data_path;   // "copy", "none", ...
  uint16_t queues = 0;     // as negotiated
  uint16_t depth = 0;
  uint64_t size_bytes = 0;
  // Set when spec.file is: what that path named when the device was added.
  std::optional<BackingIdentity> backing;

  friend bool operator==(const DeviceState&, const DeviceState&) = default;
};

nlohmann::json StateToJson(const DeviceState& state);
Result<DeviceState> StateFromJson(const nlohmann::json& j);

// Parses text into JSON without throwing; `what` names the source in errors.
Result<nlohmann::json> ParseJson(std::string_view text, const std::string& what);

}  // namespace ublk

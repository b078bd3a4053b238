// Checking a device's options against its target's table: the one place
// that decides which options a target takes and whether a value is valid.
//
// The command line (ctl/options.cpp) turns text into OptionValues and the
// spec JSON (daemon/spec_json.cpp) turns JSON into them; both then ask these
// functions, so a value the command line refuses is refused in a state file
// too. Errors are one line naming the option ("--offset", as the command
// line spells it). Pure functions, any thread.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "registry.h"
#include "ublk/result.h"
#include "ublk/spec.h"
#include "ublk/target_options.h"

namespace ublk {

// The row for `name` in `table`; nullptr when there is none.
const TargetOptionDef* FindOptionDef(std::span<const TargetOptionDef> table,
                                     std::string_view name);

// Whether targets of `type` take the option spelled --`long_name`: one of
// the backend options every target declares in its row ("file", "size",
// "read-only", "zero-copy") or one of its own. Options that are not about
// the backend (-q, -d, -r, --name, testing options ...) are not asked about.
bool TargetTakes(const TargetType& type, std::string_view long_name);

// "--offset: not an option of the nvme target".
Error NotAnOption(const std::string& spelled, const TargetType& type);

// Checks one value against its row: the right kind, within [min, max], one
// of `only` or `choices` when the row lists them.
Result<void> CheckOptionValue(const TargetOptionDef& def,
                              const OptionValue& value);

// Checks everything about a spec that depends on its target: each option in
// spec.options is one of the target's, of the right kind and in range; a
// backing file is given exactly when the target needs one; --read-only and
// -z only where the target takes them; the testing options' conditions.
Result<void> CheckSpecOptions(const TargetType& type, const DeviceSpec& spec);

// The value a target works with: the one given, else the table's default.
// `name` must be a row of `table` of the matching kind.
bool FlagOption(std::span<const TargetOptionDef> table,
                const TargetOptions& given, std::string_view name);
uint64_t NumberOption(std::span<const TargetOptionDef> table,
                      const TargetOptions& given, std::string_view name);
std::string ChoiceOption(std::span<const TargetOptionDef> table,
                         const TargetOptions& given, std::string_view name);

}  // namespace ublk

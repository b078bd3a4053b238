// Per-target options: the table a target declares, and the values one device
// was given.
//
// Each target type (targets/registry.cpp) owns a table of TargetOptionDef
// rows: the options only it takes (loop's --offset, ...), with kind, range,
// help text and default. The command line (ctl/options.cpp), the spec JSON
// and the state file (daemon/spec_json.cpp) and `ublk help add` all work from
// that table, so adding an option to a backend is one row in the backend's
// own file plus the code in that backend that uses it.
//
// TargetOptions holds the values the user gave, by option name, already
// checked against the table (targets/option_table.h); an option left out
// means its table default. Plain data, header-only.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <variant>

namespace ublk {

enum class OptionKind : uint8_t {
  kFlag,    // no value: given means true
  kSize,    // bytes, "1M" on the command line; from min to max
  kNumber,  // a whole number from min to max, or one of `only`
  kChoice,  // one of the words in `choices`
};

struct TargetOptionDef {
  std::string_view name{};  // the long option without "--"; the JSON key
  OptionKind kind = OptionKind::kFlag;
  std::string_view value_name{};  // "SIZE", "512|4096"; empty for a flag
  std::string_view help{};        // for `ublk help add`; lines split by '\n'
  uint64_t min = 0;               // kSize, kNumber
  uint64_t max = UINT64_MAX;
  std::span<const uint64_t> only{};             // kNumber: the allowed values
  std::span<const std::string_view> choices{};  // kChoice
  uint64_t default_number = 0;                  // kSize, kNumber
  std::string_view default_choice{};            // kChoice
  // kSize: a bare number counts 512-byte sectors, as the reference server's
  // option of that name does; with a unit ("4096B", "1M") it is bytes.
  bool bare_is_sectors = false;
};

// A flag is true, a size or number an integer, a choice its word.
using OptionValue = std::variant<bool, uint64_t, std::string>;

class TargetOptions {
 public:
  using Map = std::map<std::string, OptionValue, std::less<>>;

  void Set(std::string name, OptionValue value) {
    values_[std::move(name)] = std::move(value);
  }
  // nullptr when the option was not given.
  const OptionValue* Find(std::string_view name) const {
    auto it = values_.find(name);
    return it == values_.end() ? nullptr : &it->second;
  }
  const Map& values() const { return values_; }
  bool empty() const { return values_.empty(); }

  friend bool operator==(const TargetOptions&, const TargetOptions&) = default;

 private:
  Map values_;
};

}  // namespace ublk

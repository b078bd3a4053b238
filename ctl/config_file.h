// A device's configuration file (/etc/ublk/NAME.toml), read as TOML.
//
// The file is a flat TOML table whose keys are the long options of
// `ublk add` (`type = "loop"`, `queues = 2`, `recovery = true`). This layer
// only parses the file and flattens it into entries that remember their
// line; which keys exist and what type each must have is the command
// line's business (options.cpp), so both spellings share one table.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ublk/result.h"

namespace ublk {

struct ConfigEntry {
  enum class Type : uint8_t { kString, kInteger, kBoolean };
  std::string key;
  Type type = Type::kString;
  std::string text;      // the string, or the integer in decimal
  bool boolean = false;  // kBoolean's value
  uint32_t line = 0;     // 1-based, where the key stands
};

// The entries of PATH in file order. Errors are one line starting with
// "PATH:LINE:" where a line is known: the file cannot be read, is not TOML,
// or holds a table, an array, a float or a date (no option takes one).
Result<std::vector<ConfigEntry>> ReadConfigFile(const std::string& path);

// ReadConfigFile on TEXT, naming it PATH in errors (for tests).
Result<std::vector<ConfigEntry>> ParseConfigText(const std::string& text,
                                                 const std::string& path);

}  // namespace ublk

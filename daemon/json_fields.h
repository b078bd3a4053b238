// Reading typed fields out of parsed JSON without throwing.
//
// nlohmann::json throws on a type mismatch and reading a missing key of a
// const object is undefined behaviour; everything that reads JSON from
// outside the process (state files, specs, a server's report) goes through
// these instead, and out through DumpJson. Each Get returns an Error naming the field, and leaves *out
// untouched when an optional field is absent.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "ublk/result.h"

namespace ublk {

// A whole number from 0 to max.
Result<void> GetUnsigned(const nlohmann::json& j, const char* key,
                         uint64_t max, uint64_t* out, bool required);
Result<void> GetString(const nlohmann::json& j, const char* key,
                       std::string* out, bool required);
Result<void> GetBool(const nlohmann::json& j, const char* key, bool* out,
                     bool required = false);
// An array of strings.
Result<void> GetStrings(const nlohmann::json& j, const char* key,
                        std::vector<std::string>* out, bool required);

// Whether text is well-formed UTF-8 (what JSON strings can carry unchanged).
bool IsUtf8(std::string_view text);

// j as text (indented by `indent` spaces per level, or on one line when
// negative). Never throws: a string that is not valid UTF-8 (a path or a
// --name in another encoding) has its bad bytes replaced by U+FFFD.
std::string DumpJson(const nlohmann::json& j, int indent = -1);

}  // namespace ublk

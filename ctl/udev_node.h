// The device id in a node name that udev passes its helpers (%k: "ublkb3",
// or "/dev/ublkb3"), for the helpers of 60-ublk.rules.
#pragma once

#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ublk {

// N when `arg` is PREFIX followed by digits only (after an optional /dev/).
inline std::optional<uint32_t> ParseNodeId(std::string_view arg,
                                           std::string_view prefix) {
  if (arg.substr(0, 5) == "/dev/") arg.remove_prefix(5);
  if (arg.substr(0, prefix.size()) != prefix || arg.size() == prefix.size())
    return std::nullopt;
  uint32_t id = 0;
  const char* begin = arg.data() + prefix.size();
  const char* end = arg.data() + arg.size();
  auto r = std::from_chars(begin, end, id);
  if (r.ec != std::errc() || r.ptr != end) return std::nullopt;
  return id;
}

}  // namespace ublk

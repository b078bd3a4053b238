// Sizes on the command line: "4096", "512K", "10G", "1TiB" (binary units).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "ublk/result.h"

namespace ublk {

// Whole bytes with an optional K/M/G/T/P suffix (optionally followed by "iB"
// or "B"), case-insensitive. Rejects empty, negative, fractional, junk and
// overflow with a message naming the text.
Result<uint64_t> ParseSize(std::string_view text);

// "250 GiB", "4 KiB", "1536 B": the largest unit that divides exactly, or one
// decimal place otherwise ("1.5 GiB").
std::string FormatSize(uint64_t bytes);

}  // namespace ublk

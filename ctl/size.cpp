#include "size.h"

#include <cctype>
#include <cstdio>

namespace ublk {

Result<uint64_t> ParseSize(std::string_view text) {
  auto bad = [&] {
    return Invalid("malformed size '" + std::string(text) +
                   "': use bytes or a number with K, M, G or T");
  };
  size_t i = 0;
  uint64_t value = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
    uint64_t digit = static_cast<uint64_t>(text[i] - '0');
    if (value > (UINT64_MAX - digit) / 10) return bad();
    value = value * 10 + digit;
    ++i;
  }
  if (i == 0) return bad();
  std::string unit;
  for (; i < text.size(); ++i)
    unit += static_cast<char>(std::toupper(static_cast<unsigned char>(text[i])));
  unsigned shift = 0;
  if (!unit.empty() && unit != "B") {
    const std::string units = "KMGTP";
    size_t pos = units.find(unit[0]);
    std::string rest = unit.substr(1);
    if (pos == std::string::npos || !(rest.empty() || rest == "B" || rest == "IB"))
      return bad();
    shift = 10 * static_cast<unsigned>(pos + 1);
  }
  if (shift && value > (UINT64_MAX >> shift)) return bad();
  return value << shift;
}

std::string FormatSize(uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  unsigned u = 0;
  while (u + 1 < std::size(units) && bytes >= (1ULL << (10 * (u + 1)))) ++u;
  char buf[64];
  uint64_t unit = 1ULL << (10 * u);
  if (bytes % unit == 0)
    std::snprintf(buf, sizeof(buf), "%llu %s",
                  static_cast<unsigned long long>(bytes / unit), units[u]);
  else
    std::snprintf(buf, sizeof(buf), "%.1f %s",
                  static_cast<double>(bytes) / static_cast<double>(unit),
                  units[u]);
  return buf;
}

}  // namespace ublk

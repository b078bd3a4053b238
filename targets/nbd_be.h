// Big-endian loads, as every NBD field travels (network byte order); shared
// by the reply and chunk parsers. No I/O: queue thread safe.
#pragma once

#include <cstdint>

namespace ublk::nbd {

inline uint16_t Be16(const uint8_t* p) {
  return static_cast<uint16_t>(p[0] << 8 | p[1]);
}
inline uint32_t Be32(const uint8_t* p) {
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 |
         p[3];
}
inline uint64_t Be64(const uint8_t* p) {
  return uint64_t{Be32(p)} << 32 | Be32(p + 4);
}

}  // namespace ublk::nbd

// The project's version, reported by `ublk --version`.
#pragma once

namespace ublk {
inline constexpr const char* kVersion = "0.1.0";
}  // namespace ublk

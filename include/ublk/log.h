// Logging: lifecycle events through spdlog; per-I/O tracing compiled out.
//
// The server logs add/start/stop/delete with device and queue ids at info.
// UBLK_TRACE is for the I/O path and exists only in debug builds
// (UBLK_IO_TRACE defined), so release queue threads never format or allocate
// for it. Where the output goes (stderr or syslog) is set once at startup by
// the process's main; these calls are thread-safe.
#pragma once

#include <spdlog/spdlog.h>

namespace ublk::log {

template <class... Args>
void Info(spdlog::format_string_t<Args...> fmt, Args&&... args) {
  spdlog::info(fmt, std::forward<Args>(args)...);
}
template <class... Args>
void Warn(spdlog::format_string_t<Args...> fmt, Args&&... args) {
  spdlog::warn(fmt, std::forward<Args>(args)...);
}
template <class... Args>
void Error(spdlog::format_string_t<Args...> fmt, Args&&... args) {
  spdlog::error(fmt, std::forward<Args>(args)...);
}
template <class... Args>
void Debug(spdlog::format_string_t<Args...> fmt, Args&&... args) {
  spdlog::debug(fmt, std::forward<Args>(args)...);
}

}  // namespace ublk::log

#ifdef UBLK_IO_TRACE
#define UBLK_TRACE(...) spdlog::trace(__VA_ARGS__)
#else
#define UBLK_TRACE(...) \
  do {                  \
  } while (0)
#endif

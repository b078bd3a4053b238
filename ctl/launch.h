// Starting a device's server process and waiting for its verdict.
#pragma once

#include <string>

#include "report.h"
#include "ublk/result.h"
#include "ublk/spec.h"

namespace ublk {

// The server executable: $UBLK_SERVER, else ublk-server beside this program,
// else ../libexec/ublk/ublk-server relative to it.
Result<std::string> FindServer();

// Starts the server detached (own session, stdio on /dev/null, logging to
// syslog) and returns its report once the device is live, or the server's
// error, once the server has exited and left nothing behind. Waits at most
// timeout_ms for the report. With `recover` the server takes over
// device spec.id (ublk-server --recover) instead of adding one.
Result<ServerReport> LaunchDetached(const std::string& server,
                                      const DeviceSpec& spec, int timeout_ms,
                                      bool recover = false);

// Foreground: this process becomes the server (exec); a short-lived child
// prints the report through `print` once the device is live. Returns only on
// failure to start.
Error ExecForeground(const std::string& server, const DeviceSpec& spec,
                     void (*print)(const ServerReport& report, bool json),
                     bool json, bool recover = false);

}  // namespace ublk

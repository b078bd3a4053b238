// Telling a service manager that a foreground device is ready.
//
// Under systemd (Type=notify) the unit is ready once the device is LIVE and
// its udev names exist, so that units ordered after it (mounts in
// /etc/fstab naming /dev/ublk/by-name/NAME) find them. Called by the
// foreground report printer, a process of the unit (NotifyAccess=all).
#pragma once

#include <string>

namespace ublk {

// Waits (up to timeout_ms) until /dev/ublk/by-name/NAME resolves to BLOCK,
// when NAME is not empty and udev runs (/run/udev/control exists); true when
// the link is there or nothing is to be waited for.
bool WaitForNameLink(const std::string& name, const std::string& block,
                     int timeout_ms);

// Sends STATE ("READY=1\nSTATUS=...") to $NOTIFY_SOCKET as sd_notify(3)
// does; nothing when the variable is not set. False when sending failed.
bool NotifyServiceManager(const std::string& state);

}  // namespace ublk

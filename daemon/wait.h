// Waiting, written once: for a path to appear or go, for a process to exit,
// and, only where the kernel offers nothing to wait on, a bounded poll of a
// kernel state.
//
// WaitForPath / WaitForPathGone watch the path's directory with inotify (as
// devtmpfs creates and removes /dev/ublkcN), WaitForExit holds a pidfd
// (Linux 5.3), so both wake at the event rather than on a timer. Each takes
// a timeout and returns an Error whose code is ETIMEDOUT when it passes (see
// TimedOut). Any thread; they block the caller, so never a queue thread.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <string>

#include "ublk/result.h"

namespace ublk {

using Millis = std::chrono::milliseconds;

// Ok once `path` exists (checked first, so an existing path returns at once).
// Its directory must exist.
Result<void> WaitForPath(const std::string& path, Millis timeout);
// Ok once `path` no longer exists.
Result<void> WaitForPathGone(const std::string& path, Millis timeout);

// Ok once `path` exists and is owned by `uid`: udev gives an unprivileged
// device's nodes, which the kernel makes root's, to the device's owner.
Result<void> WaitForOwner(const std::string& path, uid_t uid, Millis timeout);

// Ok once process `pid` has exited (a zombie counts as exited; nothing is
// reaped) or when there is no such process.
Result<void> WaitForExit(pid_t pid, Millis timeout);

// For a kernel state with no event to wait on (a device's state as
// GET_DEV_INFO reports it, a command refused with EBUSY until the kernel has
// finished something asynchronous): calls `reached` at once and then every
// `interval` until it returns true (ok) or an Error (returned as is), or
// `timeout` has passed ("waiting for WHAT: ..." with ETIMEDOUT).
Result<void> PollKernelState(const std::string& what, Millis timeout,
                             Millis interval,
                             const std::function<Result<bool>()>& reached);

// Whether `error` is a timeout of one of the waits above.
bool TimedOut(const Error& error);

}  // namespace ublk

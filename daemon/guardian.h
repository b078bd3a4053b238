// The guardian: a small parent process that outlives a crashed server.
//
// A server killed with SIGKILL cannot clean up after itself, and without
// user recovery the kernel leaves its device behind in the DEAD state. The
// guardian forks the real server, forwards SIGTERM/SIGINT/SIGHUP to it, and
// when it dies abnormally deletes the device (whose id the server sent
// through a pipe right after ADD_DEV) and its state file.
#pragma once

#include <functional>

namespace ublk {

// Runs `serve(devid_fd)` in a child process and supervises it. `close_in_parent`
// is a descriptor (e.g. the ready pipe) only the child keeps, or -1.
// Returns the child's exit code (128 + signal when it was killed).
int RunGuarded(const std::function<int(int devid_fd)>& serve,
               int close_in_parent);

}  // namespace ublk

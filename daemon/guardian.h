// The guardian: a small parent process that outlives a crashed server.
//
// A server killed with SIGKILL cannot clean up after itself, and without
// user recovery the kernel leaves its device behind in the DEAD state. The
// guardian forks the real server, forwards SIGTERM/SIGINT/SIGHUP to it, and
// when it dies abnormally deletes the device (whose id the server sent
// through a pipe right after ADD_DEV) and its state file.
//
// A device made for user recovery (-r) is kept instead once the kernel has
// put it in QUIESCED or FAIL_IO (it waits for `ublk recover`), together
// with its state file; the guardian then exits, so nothing of the dead
// server keeps running - or, when allowed, starts the next server itself
// (as for a handover), so that a service manager sees no failure. Such a device that never went live (killed before
// START_DEV, or during STOP_DEV) is DEAD and is deleted as usual.
#pragma once

#include <cstdint>
#include <functional>

namespace ublk {

// Runs `serve(devid_fd)` in a child process and supervises it. `close_in_parent`
// is a descriptor (e.g. the ready pipe) only the child keeps, or -1.
// `keep_recoverable`: the device was made with user recovery.
// Returns the child's exit code (128 + signal when it was killed).
// When the server hands its device over (exit kExitHandedOver, see
// server.h), `hand_over(dev_id)` is called to start the next one; it
// replaces this process (exec) and returns only on failure. With
// `may_respawn()` true, a killed server whose device was kept is followed
// the same way.
int RunGuarded(const std::function<int(int devid_fd)>& serve,
               int close_in_parent, bool keep_recoverable,
               const std::function<bool()>& may_respawn,
               const std::function<void(uint32_t dev_id)>& hand_over);

}  // namespace ublk

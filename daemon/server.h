// The per-device server: brings one device up from its spec, serves it until
// told to stop, and takes it down again.
//
// Recovery (options.recover) replaces ADD_DEV..START_DEV with the takeover
// of an existing device; see recovery.h.
// Lifecycle: open the backend, ADD_DEV, SET_PARAMS, open /dev/ublkcN, start
// one thread per queue (each fetches all its tags), START_DEV, write the
// state file, report "live". Then wait for SIGTERM/SIGINT/SIGHUP or for a
// queue to end on its own (the device was stopped or deleted from outside).
// Stop: STOP_DEV, let the queues drain and exit, close /dev/ublkcN, delete the
// device, remove the state file. Any failure on the way up undoes what was
// done, so no half-made device stays behind.
#pragma once

#include "ublk/spec.h"

namespace ublk {

struct ServerOptions {
  int ready_fd = -1;  // gets one JSON line: {"ok":true,...} or {"ok":false,...}
  int devid_fd = -1;  // gets the device id (4 bytes) right after ADD_DEV
  // Take over device spec.id, which waits for a server (user recovery),
  // instead of adding a new one: START_USER_RECOVERY, open /dev/ublkcN, fetch
  // every tag, END_USER_RECOVERY. Failing leaves the device waiting.
  bool recover = false;
};

// SIGUSR2 asks the server to hand its device over to a new server (`ublk
// restart`): with UBLK_F_QUIESCE, QUIESCE_DEV lets in-flight I/O complete
// and parks the device; otherwise (reissue mode) the server just lets go
// and the kernel requeues what was in flight, as after a crash. Either way
// the device stays, QUIESCED, with its state file, for the next server.
inline constexpr int kExitHandedOver = 75;
//
// SIGUSR1 (sigqueue, the new size in bytes as its value) resizes the device
// online (`ublk resize`, UBLK_F_UPDATE_SIZE): the target checks that its
// backend holds the size, the queues accept the new bounds, UPDATE_SIZE
// tells the kernel, the state file records it, and the answer goes to
// ResizeAnswerPath.

// Returns the process exit code: 0 after a clean stop, kExitHandedOver
// after a handover, 1 on failure.
int RunServer(const DeviceSpec& spec, const ServerOptions& options);

}  // namespace ublk

// nbd: a device served by a standard NBD server (qemu-nbd, nbdkit, ...).
//
// -f names the server as an NBD URI (nbd_uri.h): nbd://HOST[:PORT][/EXPORT]
// or nbd+unix:///EXPORT?socket=PATH. CreateNbdTarget connects and
// negotiates the export (fixed newstyle, NBD_OPT_GO) before any device
// exists, one connection per queue; the device then has the export's size
// and advertises only what the server does: read-only, FLUSH and FUA,
// DISCARD (NBD_CMD_TRIM), WRITE_ZEROES, rotational, and its block sizes.
// Several queues need a server that allows several connections to the
// export (NBD_FLAG_CAN_MULTI_CONN). Request data moves through the per-tag
// buffers (copy mode: sockets take no registered buffers). The I/O path is
// in nbd_queue.h; a connection that breaks is made again off the queue
// thread (nbd_reconnect.h) for up to --reconnect-timeout seconds.
#pragma once

#include <memory>

#include "ublk/result.h"
#include "ublk/spec.h"
#include "ublk/target.h"
#include "ublk/target_options.h"

namespace ublk {

inline constexpr TargetOptionDef kNbdOptions[] = {
    {.name = "reconnect-timeout",
     .kind = OptionKind::kNumber,
     .value_name = "SECONDS",
     .help = "how long I/O waits for a broken connection to the NBD\n"
             "server to be made again (in-flight requests are sent\n"
             "again once it is); past it I/O fails with EIO until the\n"
             "connection is back; 0: fail at once; default 30",
     .max = 3600,
     .default_number = 30},
};

// Errors are one line: a malformed URI, an unreachable server, an unknown
// export, a server that breaks the handshake, -q N refused.
Result<std::unique_ptr<Target>> CreateNbdTarget(const DeviceSpec& spec);

}  // namespace ublk

// Opening one connection to an NBD server: connect, handshake, ready for the
// transmission phase. Setup path only (blocks, with a deadline).
#pragma once

#include <chrono>

#include "nbd_proto.h"
#include "nbd_uri.h"
#include "ublk/fd.h"
#include "ublk/result.h"

namespace ublk::nbd {

// How long connecting and the whole handshake may take.
inline constexpr std::chrono::milliseconds kConnectTimeout{10000};

struct Connection {
  Fd socket;  // non-blocking, TCP_NODELAY on TCP
  ExportInfo info;
};

// Errors are one line naming the server ("cannot connect to
// 127.0.0.1:10809: Connection refused", "export 'x' does not exist on the
// NBD server at unix:/run/x.sock").
// `structured`: ask for structured replies (Handshake).
Result<Connection> Connect(const Address& address,
                           std::chrono::milliseconds timeout = kConnectTimeout,
                           bool structured = true);

}  // namespace ublk::nbd

// The NBD handshake (fixed newstyle, NBD_OPT_STRUCTURED_REPLY, NBD_OPT_GO),
// over any byte stream.
//
// Handshake() drives one connection from the server's greeting to the
// transmission phase and returns what the server said about the export.
// The stream is an interface so the same code runs on a socket (with a
// deadline, nbd_connect.h) and on bytes in memory (unit tests, the fuzz
// target). Setup path only: it blocks in the stream and allocates.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "nbd_proto.h"
#include "ublk/result.h"

namespace ublk::nbd {

class Stream {
 public:
  virtual ~Stream() = default;
  // Exactly out.size() bytes, or an error (end of stream, timeout, ...).
  virtual Result<void> Read(std::span<uint8_t> out) = 0;
  virtual Result<void> Write(std::span<const uint8_t> in) = 0;
};

// Errors are one line: not an NBD server, an unknown export, TLS required,
// a protocol violation (naming what was wrong), or the stream's own error.
// `structured`: ask for structured replies (NBD_OPT_STRUCTURED_REPLY).
Result<ExportInfo> Handshake(Stream& s, std::string_view export_name,
                             bool structured = true);

}  // namespace ublk::nbd

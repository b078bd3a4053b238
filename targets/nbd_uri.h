// NBD URIs, as qemu and libnbd spell them: where an nbd device's server is.
//
//   nbd://HOST[:PORT][/EXPORT]       TCP; PORT defaults to 10809, HOST may
//                                    be a name, an IPv4 or a [bracketed]
//                                    IPv6 address
//   nbd+unix:///EXPORT?socket=PATH   a Unix domain socket
//
// EXPORT is the export name, percent-decoded; empty means the server's
// default export. TLS (nbds://, nbds+unix://) and vsock are refused, as is
// any query parameter but socket=. Pure function; any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "ublk/result.h"

namespace ublk::nbd {

struct Address {
  enum class Kind : uint8_t { kTcp, kUnix } kind = Kind::kTcp;
  std::string host;         // kTcp, without brackets
  uint16_t port = 0;        // kTcp
  std::string socket_path;  // kUnix
  std::string export_name;

  friend bool operator==(const Address&, const Address&) = default;
};

// Errors name the URI and what is wrong with it in one line.
Result<Address> ParseUri(std::string_view uri);

// "host:port" or "unix:PATH", for log lines and errors.
std::string Describe(const Address& a);

}  // namespace ublk::nbd

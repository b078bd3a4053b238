#include "nbd_uri.h"

#include "nbd_proto.h"

namespace ublk::nbd {
namespace {

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// %XX decoding; false on a bad escape or a NUL byte.
bool PercentDecode(std::string_view in, std::string* out) {
  out->clear();
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return false;
      const int hi = HexDigit(in[i + 1]), lo = HexDigit(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      c = static_cast<char>(hi << 4 | lo);
      i += 2;
    }
    if (c == '\0') return false;
    out->push_back(c);
  }
  return true;
}

Result<uint16_t> ParsePort(std::string_view text, const std::string& bad) {
  if (text.empty() || text.size() > 5) return Invalid(bad + "bad port");
  uint32_t port = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return Invalid(bad + "bad port");
    port = port * 10 + static_cast<uint32_t>(c - '0');
  }
  if (port == 0 || port > 65535) return Invalid(bad + "port out of range");
  return static_cast<uint16_t>(port);
}

Result<void> ParseHostPort(std::string_view auth, const std::string& bad,
                           Address& a) {
  std::string_view port;
  if (!auth.empty() && auth[0] == '[') {
    const size_t close = auth.find(']');
    if (close == std::string_view::npos)
      return Invalid(bad + "unclosed [ in the host");
    a.host = std::string(auth.substr(1, close - 1));
    std::string_view rest = auth.substr(close + 1);
    if (!rest.empty()) {
      if (rest[0] != ':') return Invalid(bad + "junk after ]");
      port = rest.substr(1);
      if (port.empty()) return Invalid(bad + "bad port");
    }
  } else {
    const size_t colon = auth.find(':');
    a.host = std::string(auth.substr(0, colon));
    if (colon != std::string_view::npos) {
      port = auth.substr(colon + 1);
      if (port.empty()) return Invalid(bad + "bad port");
    }
  }
  if (a.host.empty()) return Invalid(bad + "no host");
  if (a.host.find('@') != std::string::npos)
    return Invalid(bad + "user names are not supported");
  a.port = kDefaultPort;
  if (!port.empty()) {
    auto p = ParsePort(port, bad);
    if (!p) return p.error();
    a.port = *p;
  }
  return {};
}

}  // namespace

Result<Address> ParseUri(std::string_view uri) {
  const std::string bad = "-f " + std::string(uri) + ": ";
  const size_t sep = uri.find("://");
  if (sep == std::string_view::npos)
    return Invalid(bad +
                   "not an NBD URI (nbd://HOST[:PORT][/EXPORT] or "
                   "nbd+unix:///EXPORT?socket=PATH)");
  const std::string_view scheme = uri.substr(0, sep);
  Address a;
  if (scheme == "nbd") {
    a.kind = Address::Kind::kTcp;
  } else if (scheme == "nbd+unix") {
    a.kind = Address::Kind::kUnix;
  } else if (scheme.starts_with("nbds")) {
    return Invalid(bad + "TLS (nbds) is not supported");
  } else {
    return Invalid(bad + "unknown scheme '" + std::string(scheme) +
                   "' (nbd or nbd+unix)");
  }
  std::string_view rest = uri.substr(sep + 3);
  std::string_view query;
  if (const size_t q = rest.find('?'); q != std::string_view::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  if (rest.find('#') != std::string_view::npos)
    return Invalid(bad + "fragments (#) are not supported");
  const size_t slash = rest.find('/');
  const std::string_view auth = rest.substr(0, slash);
  const std::string_view path = slash == std::string_view::npos
                                    ? std::string_view{}
                                    : rest.substr(slash + 1);
  if (!PercentDecode(path, &a.export_name))
    return Invalid(bad + "bad %-escape in the export name");
  if (a.export_name.size() > kMaxExportName)
    return Invalid(bad + "the export name is longer than 4096 bytes");

  if (a.kind == Address::Kind::kTcp) {
    if (!query.empty())
      return Invalid(bad + "nbd:// takes no query parameters");
    UBLK_RETURN_IF_ERROR(ParseHostPort(auth, bad, a));
    return a;
  }
  if (!auth.empty())
    return Invalid(
        bad + "nbd+unix:// takes no host (nbd+unix:///EXPORT?socket=PATH)");
  if (!query.starts_with("socket=") ||
      query.find('&') != std::string_view::npos)
    return Invalid(bad +
                   "nbd+unix:// needs exactly one query parameter, "
                   "socket=PATH");
  if (!PercentDecode(query.substr(7), &a.socket_path) || a.socket_path.empty())
    return Invalid(bad + "bad socket path");
  // sockaddr_un's sun_path holds 108 bytes with the terminating NUL.
  if (a.socket_path.size() > 107)
    return Invalid(bad + "the socket path is longer than 107 bytes");
  return a;
}

std::string Describe(const Address& a) {
  if (a.kind == Address::Kind::kUnix) return "unix:" + a.socket_path;
  if (a.host.find(':') != std::string::npos)
    return "[" + a.host + "]:" + std::to_string(a.port);
  return a.host + ":" + std::to_string(a.port);
}

}  // namespace ublk::nbd

#include "nbd_connect.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cerrno>
#include <cstring>

#include "nbd_handshake.h"

namespace ublk::nbd {
namespace {

using Clock = std::chrono::steady_clock;

// Milliseconds left until `deadline`, at least 0.
int Remaining(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - Clock::now());
  return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

// Waits until `fd` is ready for `events`; false on timeout.
bool WaitFor(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    pollfd p{fd, events, 0};
    const int n = ::poll(&p, 1, Remaining(deadline));
    if (n > 0) return true;
    if (n == 0) return false;
    if (errno != EINTR) return false;
  }
}

// A non-blocking socket read and written in whole messages, each call
// bounded by the connection's deadline.
class SocketStream final : public Stream {
 public:
  SocketStream(int fd, Clock::time_point deadline, std::string peer)
      : fd_(fd), deadline_(deadline), peer_(std::move(peer)) {}

  Result<void> Read(std::span<uint8_t> out) override {
    size_t done = 0;
    while (done < out.size()) {
      const ssize_t n = ::recv(fd_, out.data() + done, out.size() - done, 0);
      if (n > 0) {
        done += static_cast<size_t>(n);
      } else if (n == 0) {
        return Invalid("the NBD server at " + peer_ +
                       " closed the connection during the handshake");
      } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
        if (!WaitFor(fd_, POLLIN, deadline_)) return TimedOut();
      } else if (errno != EINTR) {
        return SysError(errno, "reading from the NBD server at " + peer_);
      }
    }
    return {};
  }

  Result<void> Write(std::span<const uint8_t> in) override {
    size_t done = 0;
    while (done < in.size()) {
      const ssize_t n =
          ::send(fd_, in.data() + done, in.size() - done, MSG_NOSIGNAL);
      if (n >= 0) {
        done += static_cast<size_t>(n);
      } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
        if (!WaitFor(fd_, POLLOUT, deadline_)) return TimedOut();
      } else if (errno != EINTR) {
        return SysError(errno, "writing to the NBD server at " + peer_);
      }
    }
    return {};
  }

 private:
  Error TimedOut() const {
    return Invalid("the NBD server at " + peer_ +
                   " did not finish the handshake in time");
  }
  int fd_;
  Clock::time_point deadline_;
  std::string peer_;
};

// Connects `fd` (non-blocking) to `sa` before `deadline`; errno-style
// failure as a positive error number, 0 on success, ETIMEDOUT on timeout.
int ConnectBefore(int fd, const sockaddr* sa, socklen_t len,
                  Clock::time_point deadline) {
  if (::connect(fd, sa, len) == 0) return 0;
  if (errno != EINPROGRESS) return errno;
  if (!WaitFor(fd, POLLOUT, deadline)) return ETIMEDOUT;
  int err = 0;
  socklen_t l = sizeof(err);
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l) != 0) return errno;
  return err;
}

Result<Fd> ConnectUnix(const Address& a, Clock::time_point deadline) {
  Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return SysError(errno, "creating a socket");
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::memcpy(sa.sun_path, a.socket_path.data(), a.socket_path.size());
  const int err = ConnectBefore(fd.get(), reinterpret_cast<sockaddr*>(&sa),
                                sizeof(sa), deadline);
  if (err != 0) return SysError(err, "cannot connect to " + Describe(a));
  return fd;
}

Result<Fd> ConnectTcp(const Address& a, Clock::time_point deadline) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* list = nullptr;
  const std::string port = std::to_string(a.port);
  const int gai = ::getaddrinfo(a.host.c_str(), port.c_str(), &hints, &list);
  if (gai != 0)
    return Invalid("cannot resolve NBD server host '" + a.host +
                   "': " + ::gai_strerror(gai));
  int err = EHOSTUNREACH;
  Fd fd;
  for (addrinfo* ai = list; ai != nullptr; ai = ai->ai_next) {
    fd = Fd(::socket(ai->ai_family,
                     ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                     ai->ai_protocol));
    if (!fd.valid()) {
      err = errno;
      continue;
    }
    err = ConnectBefore(fd.get(), ai->ai_addr, ai->ai_addrlen, deadline);
    if (err == 0) break;
    fd.reset();
  }
  ::freeaddrinfo(list);
  if (!fd.valid()) return SysError(err, "cannot connect to " + Describe(a));
  // Request headers are small and latency is what counts.
  int one = 1;
  (void)::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return fd;
}

}  // namespace

Result<Connection> Connect(const Address& address,
                           std::chrono::milliseconds timeout, bool structured) {
  const auto deadline = Clock::now() + timeout;
  auto fd = address.kind == Address::Kind::kUnix
                ? ConnectUnix(address, deadline)
                : ConnectTcp(address, deadline);
  if (!fd) return fd.error();
  SocketStream stream(fd->get(), deadline, Describe(address));
  auto info = Handshake(stream, address.export_name, structured);
  if (!info) return info.error().Wrap(Describe(address));
  return Connection{std::move(*fd), *info};
}

}  // namespace ublk::nbd

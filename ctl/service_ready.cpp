#include "service_ready.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <climits>
#include <cstddef>
#include <cstdlib>
#include <cstring>

#include "ublk/fd.h"

namespace ublk {

bool WaitForNameLink(const std::string& name, const std::string& block,
                     int timeout_ms) {
  struct stat st;
  if (name.empty() || ::stat("/run/udev/control", &st) != 0) return true;
  const std::string link = "/dev/ublk/by-name/" + name;
  for (int waited = 0; waited <= timeout_ms; waited += 50) {
    char target[PATH_MAX];
    if (::realpath(link.c_str(), target) != nullptr && block == target)
      return true;
    ::usleep(50 * 1000);
  }
  return false;
}

bool NotifyServiceManager(const std::string& state) {
  const char* path = std::getenv("NOTIFY_SOCKET");
  if (path == nullptr || path[0] == '\0') return true;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const size_t len = std::strlen(path);
  if ((path[0] != '/' && path[0] != '@') || len >= sizeof(addr.sun_path))
    return false;
  std::memcpy(addr.sun_path, path, len);
  if (path[0] == '@') addr.sun_path[0] = '\0';  // the abstract namespace
  Fd sock(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!sock.valid()) return false;
  const socklen_t addr_len =
      static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + len);
  return ::sendto(sock.get(), state.data(), state.size(), MSG_NOSIGNAL,
                  reinterpret_cast<const sockaddr*>(&addr), addr_len) ==
         static_cast<ssize_t>(state.size());
}

}  // namespace ublk

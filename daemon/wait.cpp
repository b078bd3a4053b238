#include "wait.h"

#include <poll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <thread>

#include "ublk/fd.h"

namespace ublk {
namespace {

using Clock = std::chrono::steady_clock;

// Milliseconds left until `deadline`, rounded up so a poll never wakes a
// hair early and spins; 0 once it has passed.
int LeftMs(Clock::time_point deadline) {
  const auto left = deadline - Clock::now();
  if (left <= Clock::duration::zero()) return 0;
  return static_cast<int>(
      std::chrono::ceil<std::chrono::milliseconds>(left).count());
}

Error Timeout(const std::string& what) {
  return SysError(ETIMEDOUT, "waiting for " + what);
}

bool Exists(const std::string& path) {
  return ::access(path.c_str(), F_OK) == 0;
}

std::string DirOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// Ok once `holds` is true of `path`, looked at again whenever an entry of
// its directory is created, removed, renamed or changes attributes (owner,
// mode). `what` ends "waiting for PATH ...".
Result<void> WaitForPathEvent(const std::string& path,
                              const std::function<bool()>& holds,
                              const std::string& what, Millis timeout) {
  const auto deadline = Clock::now() + timeout;
  Fd watch(inotify_init1(IN_CLOEXEC | IN_NONBLOCK));
  if (!watch.valid()) return SysError(errno, "creating an inotify instance");
  const std::string dir = DirOf(path);
  // The watch comes before the first look, so no change falls between them.
  if (inotify_add_watch(watch.get(), dir.c_str(),
                        IN_CREATE | IN_DELETE | IN_MOVED_TO | IN_MOVED_FROM |
                            IN_ATTRIB) < 0)
    return SysError(errno, "watching " + dir);
  while (!holds()) {
    const int left = LeftMs(deadline);
    if (left == 0) return Timeout(path + " " + what);
    pollfd p{watch.get(), POLLIN, 0};
    const int n = ::poll(&p, 1, left);
    if (n < 0 && errno != EINTR) return SysError(errno, "waiting for " + path);
    // Drain the events; which name changed does not matter, the look does.
    alignas(inotify_event) char events[4096];
    while (::read(watch.get(), events, sizeof(events)) > 0) {
    }
  }
  return {};
}

Result<void> WaitForPresence(const std::string& path, bool present,
                             Millis timeout) {
  return WaitForPathEvent(
      path, [&] { return Exists(path) == present; },
      present ? "to appear" : "to go away", timeout);
}

}  // namespace

Result<void> WaitForPath(const std::string& path, Millis timeout) {
  return WaitForPresence(path, true, timeout);
}

Result<void> WaitForPathGone(const std::string& path, Millis timeout) {
  return WaitForPresence(path, false, timeout);
}

Result<void> WaitForOwner(const std::string& path, uid_t uid, Millis timeout) {
  return WaitForPathEvent(
      path,
      [&] {
        struct stat st {};
        return ::stat(path.c_str(), &st) == 0 && st.st_uid == uid;
      },
      "to be given to uid " + std::to_string(uid) +
          " (by the udev rule of the ublk package: is it installed?)",
      timeout);
}

Result<void> WaitForExit(pid_t pid, Millis timeout) {
  const int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (fd < 0) {
    if (errno == ESRCH) return {};  // already gone
    return SysError(errno, "watching process " + std::to_string(pid));
  }
  Fd pidfd(fd);
  const auto deadline = Clock::now() + timeout;
  while (true) {
    pollfd p{pidfd.get(), POLLIN, 0};
    const int n = ::poll(&p, 1, LeftMs(deadline));
    if (n > 0) return {};  // readable once the process has exited
    if (n < 0 && errno != EINTR)
      return SysError(errno, "waiting for process " + std::to_string(pid));
    if (n == 0 && LeftMs(deadline) == 0)
      return Timeout("process " + std::to_string(pid) + " to exit");
  }
}

Result<void> PollKernelState(const std::string& what, Millis timeout,
                             Millis interval,
                             const std::function<Result<bool>()>& reached) {
  const auto deadline = Clock::now() + timeout;
  while (true) {
    auto r = reached();
    if (!r) return r.error();
    if (*r) return {};
    const int left = LeftMs(deadline);
    if (left == 0) return Timeout(what);
    std::this_thread::sleep_for(std::min(interval, Millis(left)));
  }
}

bool TimedOut(const Error& error) {
  return error.code() == std::errc::timed_out;
}

}  // namespace ublk

#include "launch.h"

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "json_fields.h"
#include "service_ready.h"
#include "spec_json.h"
#include "ublk/fd.h"

namespace ublk {
namespace {

constexpr int kReadyFd = 3;

// Puts fd on kReadyFd without close-on-exec, so the server inherits it.
void MoveToReadyFd(int fd) {
  if (fd == kReadyFd)
    ::fcntl(fd, F_SETFD, 0);
  else
    ::dup2(fd, kReadyFd);
}

bool IsExecutable(const std::string& path) {
  return ::access(path.c_str(), X_OK) == 0;
}

// Reads one line from fd, waiting until the deadline. Empty on EOF.
Result<std::string> ReadLine(int fd, int timeout_ms) {
  std::string line;
  timespec start{};
  clock_gettime(CLOCK_MONOTONIC, &start);
  while (true) {
    timespec now{};
    clock_gettime(CLOCK_MONOTONIC, &now);
    long elapsed = (now.tv_sec - start.tv_sec) * 1000 +
                   (now.tv_nsec - start.tv_nsec) / 1000000;
    if (elapsed >= timeout_ms) return SysError(ETIMEDOUT, "waiting for the server");
    pollfd p{fd, POLLIN, 0};
    int n = ::poll(&p, 1, static_cast<int>(timeout_ms - elapsed));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return SysError(errno, "waiting for the server");
    if (n == 0) continue;
    char buf[4096];
    ssize_t got = ::read(fd, buf, sizeof(buf));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return SysError(errno, "reading the server's report");
    if (got == 0) return line;
    line.append(buf, static_cast<size_t>(got));
    if (auto nl = line.find('\n'); nl != std::string::npos)
      return line.substr(0, nl);
  }
}

[[noreturn]] void ExecServer(const std::string& server, const DeviceSpec& spec,
                             bool foreground, bool recover) {
  std::string spec_text = DumpJson(SpecToJson(spec));
  std::string fd_text = std::to_string(kReadyFd);
  const char* argv[8] = {"ublk-server", "--spec", spec_text.c_str(),
                         "--ready-fd", fd_text.c_str()};
  int argc = 5;
  if (foreground) argv[argc++] = "--foreground";
  if (recover) argv[argc++] = "--recover";
  argv[argc] = nullptr;
  ::execv(server.c_str(), const_cast<char* const*>(argv));
  std::string msg = std::string("{\"ok\":false,\"error\":\"cannot run ") +
                    server + ": " + std::strerror(errno) + "\"}\n";
  (void)!::write(kReadyFd, msg.data(), msg.size());
  ::_exit(127);
}

}  // namespace

Result<std::string> FindServer() {
  if (const char* env = std::getenv("UBLK_SERVER"); env && *env) {
    if (!IsExecutable(env))
      return Invalid(std::string("UBLK_SERVER=") + env + " is not executable");
    return std::string(env);
  }
  char self[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n <= 0) return SysError(errno, "finding this program's location");
  self[n] = '\0';
  std::string dir(self);
  dir = dir.substr(0, dir.rfind('/'));
  for (const std::string& candidate :
       {dir + "/ublk-server", dir + "/../libexec/ublk/ublk-server"})
    if (IsExecutable(candidate)) return candidate;
  return Invalid("cannot find ublk-server beside " + std::string(self) +
                 " or in ../libexec/ublk/");
}

Result<ServerReport> LaunchDetached(const std::string& server,
                                      const DeviceSpec& spec, int timeout_ms,
                                      bool recover) {
  auto pipe = Fd::Pipe();
  if (!pipe) return pipe.error();
  auto& [read_end, write_end] = *pipe;
  pid_t pid = ::fork();
  if (pid < 0) return SysError(errno, "starting the server");
  if (pid == 0) {
    ::setsid();
    int null = ::open("/dev/null", O_RDWR);
    for (int fd = 0; fd <= 2; ++fd) ::dup2(null, fd);
    MoveToReadyFd(write_end.get());
    ExecServer(server, spec, false, recover);
  }
  write_end.reset();
  auto line = ReadLine(read_end.get(), timeout_ms);
  if (!line) {
    ::kill(pid, SIGTERM);  // the guardian forwards it; the server cleans up
    return line.error();
  }
  // The launched process is the guardian, which lives as long as the device.
  // One that refused exits once its server has undone everything: wait for
  // that, so a refused `add` leaves no process behind when it returns.
  auto report = ParseServerReport(*line);
  int status;
  while (::waitpid(pid, &status, report ? WNOHANG : 0) < 0 && errno == EINTR) {
  }
  return report;
}

Error ExecForeground(const std::string& server, const DeviceSpec& spec,
                     void (*print)(const ServerReport&, bool), bool json,
                     bool recover) {
  auto pipe = Fd::Pipe();
  if (!pipe) return pipe.error();
  auto& [read_end, write_end] = *pipe;
  pid_t pid = ::fork();
  if (pid < 0) return SysError(errno, "starting the report printer");
  if (pid == 0) {
    // Printer: detach from the server by forking once more (so nobody has to
    // reap us), then print the one report line and exit.
    if (::fork() != 0) ::_exit(0);
    write_end.reset();
    auto line = ReadLine(read_end.get(), INT_MAX);
    auto report =
        line ? ParseServerReport(*line) : Result<ServerReport>(line.error());
    if (report) {
      // A foreground server logs its notes to this same stderr itself.
      report->notes.clear();
      print(*report, json);
      std::fflush(stdout);
      // Ready for systemd once the udev names are there too.
      const bool linked = WaitForNameLink(spec.name, report->block, 30000);
      NotifyServiceManager("READY=1\nSTATUS=" + report->block + " live" +
                           (linked ? "" : " (no /dev/ublk/by-name link)"));
      ::_exit(0);
    }
    std::fprintf(stderr, "ublk: %s\n", report.error().message().c_str());
    ::_exit(1);
  }
  int status;
  ::waitpid(pid, &status, 0);
  read_end.reset();
  MoveToReadyFd(write_end.get());
  ExecServer(server, spec, true, recover);
}

}  // namespace ublk

#include "guardian.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "control_device.h"
#include "recovery.h"
#include "server.h"
#include "state_file.h"
#include "ublk/fd.h"
#include "ublk/log.h"
#include "wait.h"

namespace ublk {
namespace {

volatile sig_atomic_t g_child = 0;

void Forward(int sig) {
  if (g_child > 0) ::kill(g_child, sig);
}

void CleanUpAfter(uint32_t dev_id) {
  RemoveState(StateDir(), dev_id);
  auto control = ControlDevice::Open();
  if (!control) return;
  auto r = control->DelDev(dev_id);
  if (r)
    log::Info("dev {}: deleted after its server died", dev_id);
  else if (r.error().code().value() != ENODEV)
    log::Error("dev {}: {}", dev_id, r.error().message());
}

// A recovery device left waiting for a server is kept. The kernel moves it
// out of LIVE only once the dead server's /dev/ublkcN is released (after its
// io_uring is torn down; on 6.12 a monitor notices within about 5 s), so
// wait for that; DEAD means it never went live and goes as usual. A LIVE
// device with another server pid has been recovered meanwhile.
// True when the device was kept.
bool KeepOrCleanUp(uint32_t dev_id, pid_t dead_server) {
  enum class Verdict { kCleanUp, kKeep, kRecovered } verdict = Verdict::kCleanUp;
  if (auto control = ControlDevice::Open()) {
    (void)PollKernelState(
        "device " + std::to_string(dev_id) + " to leave LIVE", Millis(30000),
        Millis(100), [&]() -> Result<bool> {
          auto info = control->GetDevInfo(dev_id);
          if (!info) return info.error();
          if (WaitsForServer(*info)) {
            verdict = Verdict::kKeep;
            return true;
          }
          if (info->state == abi::kStateDead) return true;
          // 7.x sets the pid to -1 when the server goes; a new server's is > 0.
          if (info->ublksrv_pid > 0 && info->ublksrv_pid != dead_server) {
            verdict = Verdict::kRecovered;
            return true;
          }
          return false;
        });
  }
  switch (verdict) {
    case Verdict::kKeep:
      log::Info("dev {}: kept for `ublk recover` after its server died",
                dev_id);
      return true;
    case Verdict::kRecovered:
      return false;
    case Verdict::kCleanUp:
      CleanUpAfter(dev_id);
  }
  return false;
}

}  // namespace

int RunGuarded(const std::function<int(int)>& serve, int close_in_parent,
               bool keep_recoverable,
               const std::function<bool()>& may_respawn,
               const std::function<void(uint32_t)>& hand_over) {
  auto pipe = Fd::Pipe();
  if (!pipe) {
    log::Error("guardian: {}", pipe.error().message());
    return 1;
  }
  auto& [id_read, id_write] = *pipe;
  pid_t child = ::fork();
  if (child < 0) {
    log::Error("guardian: fork: {}", std::strerror(errno));
    return 1;
  }
  if (child == 0) {
    id_read.reset();
    ::_exit(serve(id_write.get()));
  }
  g_child = child;
  id_write.reset();
  if (close_in_parent >= 0) ::close(close_in_parent);
  struct sigaction sa {};
  sa.sa_handler = Forward;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGUSR2})
    sigaction(sig, &sa, nullptr);

  // Blocks until the server sends its id, or dies before ADD_DEV succeeded.
  uint32_t dev_id = 0;
  ssize_t n;
  do {
    n = ::read(id_read.get(), &dev_id, sizeof(dev_id));
  } while (n < 0 && errno == EINTR);
  const bool have_id = n == sizeof(dev_id);

  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return 0;
  if (WIFEXITED(status) && WEXITSTATUS(status) == kExitHandedOver &&
      have_id) {
    g_child = 0;
    hand_over(dev_id);  // returns only when the new server cannot start
    log::Error("dev {}: no new server could be started; it waits for "
               "`ublk recover -n {}`",
               dev_id, dev_id);
    return 1;
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);  // it cleaned up itself
  // Killed: its device is dead but still holds the id, so deleting it by id
  // cannot hit another device.
  log::Error("server (pid {}) killed by signal {}", child, WTERMSIG(status));
  if (have_id && keep_recoverable) {
    if (KeepOrCleanUp(dev_id, child) && may_respawn()) {
      g_child = 0;
      hand_over(dev_id);
      log::Error("dev {}: no new server could be started; it waits for "
                 "`ublk recover -n {}`",
                 dev_id, dev_id);
    }
  } else if (have_id)
    CleanUpAfter(dev_id);
  return 128 + WTERMSIG(status);
}

}  // namespace ublk

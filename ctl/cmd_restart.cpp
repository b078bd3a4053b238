// ublk restart: a new server for a running device, without an I/O error.
#include <signal.h>

#include <chrono>
#include <optional>

#include "commands.h"
#include "control_device.h"
#include "recovery.h"
#include "wait.h"

namespace ublk {

int RunRestart(const RestartCommand& cmd) {
  auto control = ControlDevice::Open();
  if (!control) return Fail(control.error().message());
  auto id = ResolveDevice(cmd.id, cmd.name);
  if (!id) return Fail(id.error().message());
  if (auto mine = CheckMayManage(*id, "restart"); !mine)
    return Fail(mine.error().message());
  const std::string dev = "device " + std::to_string(*id);
  auto info = control->GetDevInfo(*id);
  if (!info) return Fail(info.error().message());
  if (!(info->flags & abi::kFUserRecovery))
    return Fail(dev + " was made without recovery (-r): no new server can "
                      "take it over; delete and add it again instead");
  if (info->state != abi::kStateLive)
    return Fail(dev + " is not LIVE: its server is gone; use 'ublk recover -n " +
                std::to_string(*id) + "'");
  if (HandOverWayOf(info->flags) == HandOverWay::kNone)
    return Fail(dev + ": " + WhyNoHandOver(info->flags));
  const pid_t old_pid = info->ublksrv_pid;
  if (!ServerAlive(old_pid))
    return Fail(dev + ": its server (pid " + std::to_string(old_pid) +
                ") is not running");
  // The server parks the device (QUIESCE_DEV, or letting go in reissue
  // mode) and exits; its guardian starts the new server, from the program
  // installed now, which takes the device over.
  if (::kill(old_pid, SIGUSR2) != 0)
    return Fail(dev + ": signalling its server: " + std::strerror(errno));
  abi::DevInfo now = *info;
  // The kernel lets go of the old server's device only once its rings are
  // torn down, which it does after the process has gone (longer with a
  // polled ring): for a while the device is still LIVE with the old pid.
  std::optional<std::chrono::steady_clock::time_point> gone_since;
  auto live = PollKernelState(
      dev + " to be live with a new server", Millis(120000), Millis(100),
      [&]() -> Result<bool> {
        auto again = control->GetDevInfo(*id);
        if (!again) return again.error();
        now = *again;
        if (now.state == abi::kStateLive && now.ublksrv_pid > 0 &&
            now.ublksrv_pid != old_pid)
          return true;
        // Still LIVE with the old server long after it went: it exited
        // without handing over (see its log).
        if (now.ublksrv_pid == old_pid && !ServerAlive(old_pid) &&
            now.state == abi::kStateLive) {
          const auto t = std::chrono::steady_clock::now();
          if (!gone_since) gone_since = t;
          if (t - *gone_since > std::chrono::seconds(10))
            return Invalid(dev + ": the server exited without handing over");
        } else {
          gone_since.reset();
        }
        return false;
      });
  if (!live) {
    if (TimedOut(live.error()) && now.ublksrv_pid == old_pid &&
        ServerAlive(old_pid))
      return Fail(dev + ": the server did not hand over (its log says why); "
                        "it keeps serving");
    return Fail(live.error().message());
  }
  std::printf("dev %u: /dev/ublkb%u live again, server pid %d (was %d)\n",
              *id, *id, now.ublksrv_pid, old_pid);
  return 0;
}

}  // namespace ublk

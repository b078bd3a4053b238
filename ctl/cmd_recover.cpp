// ublk recover: hand a device whose server died to a new server.
#include "commands.h"
#include "backing_file.h"
#include "control_device.h"
#include "launch.h"
#include "recovery.h"
#include "state_file.h"
#include "wait.h"

namespace ublk {

Result<DeviceSpec> CheckRecover(ControlDevice& control, uint32_t id) {
  const std::string dev = "device " + std::to_string(id);
  if (!DeviceExists(id)) return Invalid(dev + " does not exist");
  auto info = control.GetDevInfo(id);
  if (!info) return info.error();
  if (!(info->flags & abi::kFUserRecovery))
    return Invalid(dev + " was not created with recovery (ublk add -r)");
  auto state = ReadDeviceState(id);
  if (!state) {
    if (state.error().code().value() == ENOENT)
      return Invalid(dev + ": no state file " + StatePath(DeviceStateDir(id), id) +
                     ", so its spec is unknown: cannot recover it");
    return state.error();
  }
  for (pid_t pid : {static_cast<pid_t>(info->ublksrv_pid), state->pid})
    if (ServerAlive(pid))
      return Invalid(dev + ": its server (pid " + std::to_string(pid) +
                     ") is still running; nothing to recover");
  // Right after the server died the kernel may not have noticed yet: it
  // leaves LIVE once the dead server's /dev/ublkcN is released.
  // Still LIVE after the wait is refused by CheckRecoverable, naming the state.
  abi::DevInfo now = *info;
  auto left = PollKernelState(
      dev + " to leave LIVE", Millis(15000), Millis(100),
      [&]() -> Result<bool> {
        if (now.state != abi::kStateLive) return true;
        auto again = control.GetDevInfo(id);
        if (!again) return again.error();
        now = *again;
        return now.state != abi::kStateLive;
      });
  if (!left && !TimedOut(left.error())) return left.error();
  UBLK_RETURN_IF_ERROR(CheckRecoverable(*state, now));
  // Never start a server on another file than the device was made on.
  UBLK_RETURN_IF_ERROR(CheckBackingFile(*state));
  DeviceSpec spec = state->spec;
  spec.id = id;
  return spec;
}

int RunRecover(const RecoverCommand& cmd) {
  auto control = ControlDevice::Open();
  if (!control) return Fail(control.error().message());
  if (DeviceExists(cmd.id))
    if (auto mine = CheckMayManage(cmd.id, "recover"); !mine)
      return Fail(mine.error().message());
  auto spec = CheckRecover(*control, cmd.id);
  if (!spec) return Fail(spec.error().message());
  auto server = FindServer();
  if (!server) return Fail(server.error().message());
  auto report = LaunchDetached(*server, *spec, 120000, /*recover=*/true);
  if (!report) return Fail(report.error().message());
  PrintReport(*report, cmd.json);
  return 0;
}

}  // namespace ublk

// ublk resize: a running device's capacity, changed online.
#include <signal.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <fstream>

#include "commands.h"
#include "control_device.h"
#include "recovery.h"
#include "state_file.h"
#include "wait.h"

namespace ublk {

int RunResize(const ResizeCommand& cmd) {
  auto control = ControlDevice::Open();
  if (!control) return Fail(control.error().message());
  if (!(control->features() & abi::kFUpdateSize)) {
    utsname u{};
    return Fail(std::string("resize needs the ublk feature UPDATE_SIZE "
                            "(Linux 6.16+), which this kernel (") +
                (uname(&u) == 0 ? u.release : "?") + ") lacks");
  }
  auto id = ResolveDevice(cmd.id, cmd.name);
  if (!id) return Fail(id.error().message());
  if (auto mine = CheckMayManage(*id, "resize"); !mine)
    return Fail(mine.error().message());
  const std::string dev = "device " + std::to_string(*id);
  auto info = control->GetDevInfo(*id);
  if (!info) return Fail(info.error().message());
  if (info->state != abi::kStateLive)
    return Fail(dev + " is not LIVE");
  const pid_t pid = info->ublksrv_pid;
  if (!ServerAlive(pid))
    return Fail(dev + ": its server (pid " + std::to_string(pid) +
                ") is not running");
  // The server checks the size against its backend and does it; it
  // answers in a file next to its state file.
  const std::string answer = ResizeAnswerPath(DeviceStateDir(*id), *id);
  ::unlink(answer.c_str());
  sigval value{};
  value.sival_ptr = reinterpret_cast<void*>(static_cast<uintptr_t>(cmd.size));
  if (::sigqueue(pid, SIGUSR1, value) != 0)
    return Fail(dev + ": signalling its server: " + std::strerror(errno));
  std::string line;
  auto answered = PollKernelState(
      dev + "'s server to answer", Millis(60000), Millis(50),
      [&]() -> Result<bool> {
        std::ifstream in(answer);
        return static_cast<bool>(std::getline(in, line));
      });
  ::unlink(answer.c_str());
  if (!answered) return Fail(answered.error().message());
  if (line != "ok") return Fail("resize " + dev + ": " + line);
  std::printf("dev %u: /dev/ublkb%u is %llu bytes\n", *id, *id,
              static_cast<unsigned long long>(cmd.size));
  return 0;
}

}  // namespace ublk

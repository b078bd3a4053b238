// ublk del: ask each device's server to stop; take the device down directly
// when there is no server or it does not answer.
#include <signal.h>
#include <sys/stat.h>

#include <cstdio>
#include <cstring>
#include <fstream>

#include "commands.h"
#include "control_device.h"
#include "recovery.h"
#include "state_file.h"
#include "wait.h"

namespace ublk {
namespace {

// Whether process pid runs as uid (the owner of its /proc entry): a user's
// device names its server itself (START_DEV's pid, its state file), so root
// signals that pid only when it is the user's own process.
bool RunsAs(pid_t pid, uid_t uid) {
  struct stat st {};
  const std::string proc = "/proc/" + std::to_string(pid);
  return ::stat(proc.c_str(), &st) == 0 && st.st_uid == uid;
}

// The guardian that supervises `server` (its parent, when that is a
// ublk-server too), or 0. It exits just after the server does; del waits
// for it as well, so that nothing of the device runs once del returns.
pid_t GuardianOf(pid_t server) {
  std::ifstream stat("/proc/" + std::to_string(server) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return 0;
  // "PID (COMM) STATE PPID ...": COMM may hold spaces and parentheses.
  const auto close = line.rfind(')');
  if (close == std::string::npos) return 0;
  char state = 0;
  pid_t parent = 0;
  if (std::sscanf(line.c_str() + close + 1, " %c %d", &state, &parent) != 2 ||
      parent <= 1)
    return 0;
  std::ifstream comm("/proc/" + std::to_string(parent) + "/comm");
  std::string name;
  return std::getline(comm, name) && name == "ublk-server" ? parent : 0;
}

Result<void> DeleteOne(ControlDevice& control, uint32_t id) {
  // Before the device goes, with its node, the owner it names.
  const uid_t owner = DeviceOwner(id);
  const std::string state_dir = StateDirOf(owner);
  pid_t server = 0;
  if (auto info = control.GetDevInfo(id)) server = info->ublksrv_pid;
  auto state = ReadDeviceState(id);
  if (state && !ServerAlive(server)) server = state->pid;
  if (server > 0 && owner != 0 && !RunsAs(server, owner)) {
    std::fprintf(stderr, "ublk: device %u: its server pid %d does not run as "
                 "its owner (uid %u); not signalled\n", id, server, owner);
    server = 0;
  }
  // An untrusted state file is never used (its pid could name any process);
  // the device is deleted through the kernel alone.
  if (!state && state.error().code().value() != ENOENT)
    std::fprintf(stderr, "ublk: device %u: %s; deleting without it\n", id,
                 state.error().message().c_str());

  if (ServerAlive(server)) {
    const pid_t guardian = GuardianOf(server);
    ::kill(server, SIGTERM);
    // The server deletes its device before it exits. One killed meanwhile
    // may leave a recovery device waiting for the next one: then stop
    // waiting and delete it from here.
    if (auto stopped = WaitForExit(server, Millis(20000)); !stopped) {
      std::fprintf(stderr, "ublk: device %u: server %d did not stop in 20 s, "
                   "killing it\n", id, server);
      ::kill(server, SIGKILL);
    }
    if (guardian > 0) (void)WaitForExit(guardian, Millis(5000));
    if (!DeviceExists(id)) return {};
    // Killed, its guardian deletes the device, which removes /dev/ublkcN.
    if (WaitForPathGone("/dev/ublkc" + std::to_string(id), Millis(5000)) &&
        !DeviceExists(id))
      return {};
  }
  // No (working) server: stop and delete from here.
  // DEL_DEV stops a live device too; STOP_DEV first only makes pending
  // I/O fail now rather than when the delete gets to it.
  (void)control.StopDev(id);
  auto deleted = control.DelDev(id);
  if (!deleted && deleted.error().code().value() != ENODEV)
    return deleted.error();
  RemoveState(state_dir, id);
  return {};
}

// del --safe: the kernel removes the disk only while nobody has it open (a
// mount, a process, a holder such as device-mapper); then the server stops
// as for a plain del.
Result<void> TryStop(ControlDevice& control, uint32_t id) {
  auto r = control.TryStopDev(id);
  if (r) return {};
  if (r.error().code().value() == EBUSY)
    return Invalid("device " + std::to_string(id) +
                   " is open (mounted, or in use by a process or another "
                   "device); not deleted");
  return r.error();
}

}  // namespace

int RunDel(const DelCommand& cmd) {
  auto control = ControlDevice::Open();
  if (!control) return Fail(control.error().message());
  if (cmd.safe && !(control->features() & abi::kFSafeStopDev))
    return Fail("del --safe needs TRY_STOP_DEV (UBLK_F_SAFE_STOP_DEV, Linux "
                "7.0 or later), which this kernel's ublk_drv lacks");
  std::vector<uint32_t> ids = cmd.all ? ListDeviceIds()
                                      : std::vector<uint32_t>{*cmd.id};
  int rc = 0;
  for (uint32_t id : ids) {
    // What del wants is already so: say it, and succeed, as the reference
    // server does for scripts that delete a device its server (or a
    // guardian) may have deleted already.
    if (!DeviceExists(id)) {
      if (!cmd.all)
        std::fprintf(stderr, "ublk: device %u does not exist; nothing to "
                     "delete\n", id);
      continue;
    }
    // del -a of a user: their own devices only.
    if (auto mine = CheckMayManage(id, "delete"); !mine) {
      if (!cmd.all) rc = Fail(mine.error().message());
      continue;
    }
    if (cmd.safe) {
      if (auto stopped = TryStop(*control, id); !stopped) {
        rc = Fail(stopped.error().message());
        continue;
      }
    }
    auto r = DeleteOne(*control, id);
    if (!r) rc = Fail(r.error().message());
  }
  return rc;
}

}  // namespace ublk

// The `ublk` subcommands. Each returns the process exit code and prints its
// own output; errors go to stderr as one line "ublk: ...".
#pragma once

#include "options.h"
#include "report.h"

namespace ublk {

int RunAdd(const AddCommand& cmd);
int RunDel(const DelCommand& cmd);
int RunRecover(const RecoverCommand& cmd);
int RunRestart(const RestartCommand& cmd);
int RunResize(const ResizeCommand& cmd);
int RunStats(const StatsCommand& cmd);
int RunList(const ListCommand& cmd);
int RunFeatures(const FeaturesCommand& cmd);

class ControlDevice;
// Whether device `id` waits for a server and can be recovered from its state
// file (its server dead, recovery flags, state matching the kernel's
// device); returns the spec to start the new server with. Waits a little
// for a device whose server just died to leave LIVE.
Result<DeviceSpec> CheckRecover(ControlDevice& control, uint32_t id);

// The device named by -n ID or --name NAME: its id, or an error naming it
// when there is no such device.
Result<uint32_t> ResolveDevice(const std::optional<uint32_t>& id,
                               const std::string& name);
// The device whose state file gives it NAME, if one exists.
std::optional<uint32_t> DeviceNamed(const std::string& name);

// Whether the caller may manage device id: root (CAP_SYS_ADMIN) manages
// every device, another user only the unprivileged devices it owns.
bool IsMine(uint32_t id);
// Ok when IsMine(id); else one line naming the owner and `verb` ("delete").
Result<void> CheckMayManage(uint32_t id, const std::string& verb);

// Prints "ublk: <message>" to stderr and returns 1.
int Fail(const std::string& message);

}  // namespace ublk

// Finding a device by id or by name (restart, resize, a foreground add),
// and whether the caller may manage it.
#include <pwd.h>
#include <unistd.h>

#include "commands.h"
#include "control_device.h"
#include "state_file.h"
#include "unprivileged.h"

namespace ublk {
namespace {

// "alice (uid 1001)", or "uid 1001" for a uid without a name.
std::string UserName(uid_t uid) {
  passwd pw{};
  passwd* found = nullptr;
  char buf[1024];
  if (::getpwuid_r(uid, &pw, buf, sizeof(buf), &found) == 0 && found)
    return std::string(found->pw_name) + " (uid " + std::to_string(uid) + ")";
  return "uid " + std::to_string(uid);
}

}  // namespace

bool IsMine(uint32_t id) {
  return HasCapSysAdmin() || DeviceOwner(id) == ::geteuid();
}

Result<void> CheckMayManage(uint32_t id, const std::string& verb) {
  if (IsMine(id)) return {};
  return Invalid("device " + std::to_string(id) + " belongs to " +
                 UserName(DeviceOwner(id)) + ": only that user or root may " +
                 verb + " it");
}

std::optional<uint32_t> DeviceNamed(const std::string& name) {
  for (uint32_t id : ListDeviceIds()) {
    auto state = ReadDeviceState(id);
    if (state && state->spec.name == name) return id;
  }
  return std::nullopt;
}

Result<uint32_t> ResolveDevice(const std::optional<uint32_t>& id,
                               const std::string& name) {
  if (id) {
    if (!DeviceExists(*id))
      return Invalid("device " + std::to_string(*id) + " does not exist");
    return *id;
  }
  if (auto named = DeviceNamed(name)) return *named;
  return Invalid("no device is named '" + name + "' (see 'ublk list')");
}

}  // namespace ublk

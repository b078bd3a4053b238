// Finding a device by id or by name (restart, resize, a foreground add).
#include "commands.h"
#include "control_device.h"
#include "state_file.h"

namespace ublk {

std::optional<uint32_t> DeviceNamed(const std::string& name) {
  for (uint32_t id : ListDeviceIds()) {
    auto state = ReadState(StateDir(), id);
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

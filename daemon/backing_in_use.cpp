#include "backing_in_use.h"

#include <sys/stat.h>

#include <vector>

#include "control_device.h"
#include "state_file.h"

namespace ublk {
namespace {

// What `path` names, from stat alone: the check must not open a store (a
// block device's open could claim it) and does not need its size.
std::optional<BackingIdentity> StatIdentity(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;
  BackingIdentity b;
  if (S_ISBLK(st.st_mode) || S_ISCHR(st.st_mode)) {
    b.kind = S_ISBLK(st.st_mode) ? BackingIdentity::Kind::kBlock
                                 : BackingIdentity::Kind::kChar;
    b.rdev = st.st_rdev;
  } else {
    b.dev = st.st_dev;
    b.ino = st.st_ino;
  }
  return b;
}

}  // namespace

std::optional<uint32_t> FindStoreUser(const BackingIdentity& wanted,
                                      std::span<const DeviceState> others) {
  for (const DeviceState& s : others)
    if (s.backing && SameStore(*s.backing, wanted)) return s.dev_id;
  return std::nullopt;
}

Result<void> CheckNotInUse(const std::string& path,
                           std::optional<uint32_t> own_id) {
  auto wanted = StatIdentity(path);
  if (!wanted) return {};
  // Only devices that exist: a state file whose device is gone is stale.
  std::vector<DeviceState> others;
  for (uint32_t id : ListDeviceIds()) {
    if (own_id && *own_id == id) continue;
    auto state = ReadDeviceState(id);
    if (!state || state->spec.file.empty()) continue;
    if (!state->backing) state->backing = StatIdentity(state->spec.file);
    others.push_back(std::move(*state));
  }
  if (auto user = FindStoreUser(*wanted, others))
    return Invalid(path + " is already the backing store of ublk device " +
                   std::to_string(*user) + " (/dev/ublkb" +
                   std::to_string(*user) + ")");
  return {};
}

}  // namespace ublk

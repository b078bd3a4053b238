// ublk-udev-name ublkbN: what udev's rule (60-ublk.rules) imports for a
// ublk block device, as udev's IMPORT{program} reads it:
//
//   UBLK_ID=N
//   UBLK_NAME=data      (when the device has a name; made safe for a path)
//
// The name is in the device's state file, which its server writes right
// after START_DEV, when the kernel has already announced the disk: wait for
// it a little. Prints UBLK_ID alone when there is no name or no state file
// (a device of another server) and for an unprivileged device (a user's),
// and nothing, exit 1, for a bad argument.
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <string>

#include "state_file.h"
#include "udev_node.h"

namespace {

// NAME with every byte but [A-Za-z0-9._-] replaced by '_', and a leading
// dot too: one safe path component (and one udev accepts in SYMLINK).
std::string SafeName(const std::string& name) {
  std::string out = name.substr(0, 128);
  for (char& c : out) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    if (!ok) c = '_';
  }
  if (!out.empty() && out[0] == '.') out[0] = '_';
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: ublk-udev-name ublkbN\n");
    return 2;
  }
  const auto parsed = ublk::ParseNodeId(argv[1], "ublkb");
  if (!parsed) {
    std::fprintf(stderr, "ublk-udev-name: %s is not a ublk block device\n",
                 argv[1]);
    return 1;
  }
  const uint32_t id = *parsed;
  std::printf("UBLK_ID=%u\n", id);
  // A user's device gets no name link: the names are root's, and one the
  // user chose could take over a link root's fstab mounts.
  if (ublk::DeviceOwner(id) != 0) return 0;
  // Up to 10 s: START_DEV to the state file is milliseconds on hardware,
  // seconds under an emulator.
  for (int i = 0; i < 100; ++i) {
    auto state = ublk::ReadDeviceState(id);
    if (state) {
      std::string name = SafeName(state->spec.name);
      if (!name.empty()) std::printf("UBLK_NAME=%s\n", name.c_str());
      return 0;
    }
    if (state.error().code().value() != ENOENT) return 0;
    ::usleep(100 * 1000);
  }
  return 0;
}

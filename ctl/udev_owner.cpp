// ublk-udev-owner ublkcN|ublkbN: what udev's rule (60-ublk.rules) imports
// for a node of an unprivileged device (UBLK_F_UNPRIVILEGED_DEV), so that
// udev gives the node to the user who made the device:
//
//   UBLK_OWNER_UID=1001
//   UBLK_OWNER_GID=1001
//
// The owner is the kernel's (GET_DEV_INFO's owner_uid and owner_gid, the
// user that sent ADD_DEV), never anything the user wrote. For the char node
// it first makes that user's state directory (state_file.h), so the server
// finds it once the node is its own. Prints nothing for a device made by
// root (its nodes stay root's) and for one already gone; a bad argument, or
// a control device that cannot be asked: one line on stderr, exit 1. Runs as
// root, from udev.
#include <cstdio>
#include <string>

#include "control_device.h"
#include "state_file.h"
#include "udev_node.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: ublk-udev-owner ublkcN|ublkbN\n");
    return 2;
  }
  auto id = ublk::ParseNodeId(argv[1], "ublkc");
  const bool char_node = id.has_value();
  if (!id) id = ublk::ParseNodeId(argv[1], "ublkb");
  if (!id) {
    std::fprintf(stderr, "ublk-udev-owner: %s is not a ublk device node\n",
                 argv[1]);
    return 1;
  }
  auto control = ublk::ControlDevice::Open();
  if (!control) {
    std::fprintf(stderr, "ublk-udev-owner: %s\n",
                 control.error().message().c_str());
    return 1;
  }
  auto info = control->GetDevInfo(*id);
  if (!info) {
    if (!ublk::DeviceExists(*id)) return 0;
    std::fprintf(stderr, "ublk-udev-owner: %s\n",
                 info.error().message().c_str());
    return 1;
  }
  if (!(info->flags & ublk::abi::kFUnprivilegedDev) || info->owner_uid == 0)
    return 0;
  if (char_node) {
    auto dir = ublk::PrepareUserStateDir(info->owner_uid, info->owner_gid);
    if (!dir) {
      std::fprintf(stderr, "ublk-udev-owner: device %u: %s\n", *id,
                   dir.error().message().c_str());
      return 1;
    }
  }
  std::printf("UBLK_OWNER_UID=%u\nUBLK_OWNER_GID=%u\n", info->owner_uid,
              info->owner_gid);
  return 0;
}

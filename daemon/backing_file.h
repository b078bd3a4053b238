// Backing-file identity: is the path in a state file still the file the
// device was created on?
//
// When a loop or nvme device is added, the server records what its backing
// path named (BackingIdentity in the state file). Anyone who later trusts
// that path to start a server for the same device — `ublk recover` — calls
// CheckBackingFile first, so a hand-edited path, or a path that now names a
// different file (replaced, re-created, another disk behind the same name),
// is refused instead of being served as the old device's data. Pure apart
// from stat(2)/ioctl(BLKGETSIZE64); any thread.
#pragma once

#include <string>

#include "backing_identity.h"
#include "device_state.h"
#include "ublk/result.h"

namespace ublk {

// What `path` names now (following symlinks, so /dev/disk/by-id links
// resolve): a block device by rdev and size, a char device (NVMe generic
// node) by rdev, anything else by dev, inode and size. Errors name the path.
Result<BackingIdentity> IdentifyBackingFile(const std::string& path);

// Ok when `path` names the file `expected` describes; else an Error naming
// the path and what differs (another file, another size, gone).
Result<void> CheckBackingFile(const std::string& path,
                              const BackingIdentity& expected);

// For a state file read back: ok when state.spec.file is empty (no backing
// file: null target), is a server's address (nbd), or names the file
// recorded in state.backing; refused
// when a backing path has no recorded identity. This is the call for
// `recover`:
//   auto state = ReadState(StateDir(), id);
//   if (!state) ...;
//   if (auto ok = CheckBackingFile(*state); !ok) return ok.error();
Result<void> CheckBackingFile(const DeviceState& state);

}  // namespace ublk

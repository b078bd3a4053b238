// Is a backing store already served by another ublk device?
//
// Two servers on one store corrupt it: a file or block device under two loop
// devices, an NVMe namespace (its generic char node) under two nvme devices.
// The server asks before its target opens the store, so the refusal names
// the other device rather than whatever the open would say. The answer comes
// from the state files of the other live devices: the identity each recorded
// when it was added (or, in a file without one, what its path names now),
// compared by SameStore with what the new path names. Targets know nothing of
// this; main thread only.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "backing_identity.h"
#include "device_state.h"
#include "ublk/result.h"

namespace ublk {

// Pure: the id of the first device in `others` whose recorded backing store
// is `wanted`. States without a recorded identity are skipped.
std::optional<uint32_t> FindStoreUser(const BackingIdentity& wanted,
                                      std::span<const DeviceState> others);

// Ok when no live device but `own_id` (the device being recovered) serves
// what `path` names; else "PATH is already the backing store of ublk device
// N (/dev/ublkbN)". A path that cannot be stat'ed is left to the target to
// refuse with its own words; an unreadable state file counts as no user.
Result<void> CheckNotInUse(const std::string& path,
                           std::optional<uint32_t> own_id);

}  // namespace ublk

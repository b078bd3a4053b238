// null: a device that completes every request at once with success.
//
// Reads leave the caller's buffer untouched (like null_blk without memory
// backing), writes are dropped. No backend, no data movement: with user copy
// available the kernel copies nothing either. Size from --size (default
// 250 GiB); must be a positive multiple of 512 bytes. It takes no other
// backend option: no -f, no --read-only (it stores nothing), no -z (it never
// touches data), as its registry row declares.
#pragma once

#include <memory>

#include "ublk/result.h"
#include "ublk/spec.h"
#include "ublk/target.h"

namespace ublk {

Result<std::unique_ptr<Target>> CreateNullTarget(const DeviceSpec& spec);

}  // namespace ublk

// loop: a device backed by a regular file or a block device, like the
// kernel's loop driver.
//
// Options: file (-f, required), size (default: the rest of the backing
// store after the offset, rounded down to whole blocks), read_only, and its
// own (kLoopOptions in loop_plan.h): offset, logical-block-size (512 or
// 4096), buffered. The backing store
// is opened once by CreateLoopTarget and shared by every queue as a fixed
// file on the queue's own ring. All I/O goes through that ring: reads and
// writes with the tag's fixed buffer (per-tag buffer, or the request's own
// pages in zero-copy mode) (O_DIRECT unless impossible or
// --buffered), FLUSH as fdatasync, FUA writes with RWF_DSYNC, DISCARD as a
// hole punch (file) or BLOCK_URING_CMD_DISCARD (block device), WRITE_ZEROES
// as fallocate ZERO_RANGE / PUNCH_HOLE. Each queue logs its request counts
// when it stops.
#pragma once

#include <memory>

#include "loop_plan.h"  // kLoopOptions, for the registry
#include "ublk/result.h"
#include "ublk/spec.h"
#include "ublk/target.h"

namespace ublk {

// Validates the options, opens and probes the backing store. Errors are one
// line naming the option or file at fault.
Result<std::unique_ptr<Target>> CreateLoopTarget(const DeviceSpec& spec);

}  // namespace ublk

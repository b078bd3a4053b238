// Opening and probing the loop target's backing store (setup path only).
//
// OpenBacking checks the path (exists, regular file or block device), opens
// it read-write (read-only when asked or when the store refuses writes) and
// gathers BackingFacts with a few syscalls and sysfs reads. Non-destructive: the only probes that touch the
// store are a hole punch past the end of a file and a zero-length discard.
#pragma once

#include <string>

#include "loop_plan.h"
#include "ublk/fd.h"
#include "ublk/result.h"

namespace ublk {

struct OpenedBacking {
  Fd fd;
  BackingFacts facts;
  std::string read_only_reason;  // set when writes were refused at open
};

// Whether another ublk device serves the same store is the server's question
// (daemon/backing_in_use.h), asked before this.
Result<OpenedBacking> OpenBacking(const std::string& path, bool read_only);

// Sets or clears O_DIRECT on an open backing store.
Result<void> SetDirect(int fd, bool direct);

}  // namespace ublk

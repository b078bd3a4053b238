// DeviceState: what a running server records about its device in
// /run/ublk/<id>.json (state_file.h reads and writes it, spec_json.h
// converts it). `list`, `del`, `recover` and the in-use check of a new
// device's backing store read it back. Plain value; any thread.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "backing_identity.h"
#include "ublk/spec.h"

namespace ublk {

struct DeviceState {
  DeviceSpec spec;
  uint32_t dev_id = 0;
  pid_t pid = 0;           // the server (opener of /dev/ublkcN)
  uint64_t flags = 0;      // negotiated UBLK_F_* bits
  std::string data_path;   // "copy", "none", ...
  uint16_t queues = 0;     // as negotiated
  uint16_t depth = 0;
  uint64_t size_bytes = 0;
  // A zoned device whose zones all have the same capacity: that capacity
  // (the kernel's params do not carry it); 0 otherwise.
  uint64_t zone_capacity_bytes = 0;
  // The thread serving each queue, by queue id (empty in files written
  // before they were recorded).
  std::vector<pid_t> queue_tids;
  // Set when spec.file is: what that path named when the device was added.
  std::optional<BackingIdentity> backing;
  // A network target's connection (Target::connection_state), as the
  // server last saw it; empty for the others.
  std::string connection;

  friend bool operator==(const DeviceState&, const DeviceState&) = default;
};

}  // namespace ublk

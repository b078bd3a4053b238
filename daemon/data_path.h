// DataPath: how request data moves between the kernel and the server.
//
// Chosen once per device from the kernel's features, what the target does
// with data and the user's -z (feature_flags.h), or read back from an
// existing device's flags for recovery (recovery.h); every queue of the
// device uses it. Plain value; any thread.
#pragma once

#include <string>

namespace ublk {

enum class DataPath {
  kCopy,  // the kernel copies into/out of per-tag buffers (FETCH addr)
  kNone,  // user-copy mode and a target that never touches data: no copies
  // Copy mode with NEED_GET_DATA: a WRITE arrives without its data; the
  // server answers with the buffer address and the kernel copies it then.
  kGetData,
  // User copy (USER_COPY): the kernel copies nothing; the queue itself
  // reads a WRITE's data from /dev/ublkcN into the per-tag buffer before
  // the target's I/O, and writes a READ's data back after it.
  kUserCopy,
  // Zero copy: the kernel registers each request's pages in the ring's
  // buffer table at index tag (AUTO_BUF_REG); the backend I/O uses them
  // directly. No per-tag buffers exist. A request whose registration failed
  // (NEED_REG_BUF) is registered by hand as in kExplicitReg.
  kAutoBufReg,
  // Zero copy: every request with data is registered by hand around its
  // backend I/O (REGISTER_IO_BUF -> I/O -> UNREGISTER_IO_BUF, hard-linked).
  kExplicitReg,
};

// As the report, the state file and the log spell it: "copy", "none",
// "copy/get-data", "user-copy", "zero-copy/auto", "zero-copy/explicit".
const char* DataPathName(DataPath path);

// Whether `name` is one of DataPathName's spellings.
bool IsDataPathName(const std::string& name);

// Whether the queue has per-tag buffers for the target's I/O.
constexpr bool HasTagBuffers(DataPath path) {
  return path == DataPath::kCopy || path == DataPath::kGetData ||
         path == DataPath::kUserCopy;
}

// Whether the kernel copies data into/out of the per-tag buffers (FETCH and
// COMMIT carry their address).
constexpr bool KernelCopies(DataPath path) {
  return path == DataPath::kCopy || path == DataPath::kGetData;
}

constexpr bool IsZeroCopy(DataPath path) {
  return path == DataPath::kAutoBufReg || path == DataPath::kExplicitReg;
}

}  // namespace ublk

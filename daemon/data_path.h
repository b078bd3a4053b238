// DataPath: how request data moves between the kernel and the server.
//
// Chosen once per device from the kernel's features, what the target does
// with data and the user's -z (feature_flags.h), or read back from an
// existing device's flags for recovery (recovery.h); every queue of the
// device uses it. Plain value; any thread.
#pragma once

namespace ublk {

enum class DataPath {
  kCopy,  // the kernel copies into/out of per-tag buffers (FETCH addr)
  kNone,  // user-copy mode and a target that never touches data: no copies
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
// "zero-copy/auto", "zero-copy/explicit".
const char* DataPathName(DataPath path);

constexpr bool IsZeroCopy(DataPath path) {
  return path == DataPath::kAutoBufReg || path == DataPath::kExplicitReg;
}

}  // namespace ublk

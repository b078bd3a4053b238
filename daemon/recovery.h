// User recovery: a device that outlives its server (UBLK_F_USER_RECOVERY).
//
// With -r the kernel keeps the device when its server dies: it waits in the
// QUIESCED state (I/O queues; with REISSUE what the dead server had in
// flight is sent again to the next one) or in FAIL_IO (6.13+: I/O fails
// meanwhile). A new server takes it over with START_USER_RECOVERY, opens
// /dev/ublkcN, maps the queues, fetches every tag and sends
// END_USER_RECOVERY, which makes the device LIVE again.
//
// These functions are pure (no I/O) except ServerAlive, which reads /proc.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "data_path.h"
#include "device_state.h"
#include "ublk/abi.h"
#include "ublk/result.h"
#include "ublk/spec.h"
#include "ublk/target.h"

namespace ublk {

inline constexpr uint64_t kRecoveryFlags = abi::kFUserRecovery |
                                           abi::kFUserRecoveryReissue |
                                           abi::kFUserRecoveryFailIo;

// The UBLK_F_* bits ADD_DEV asks for to get `mode`, or an error (one line
// naming the missing feature and the kernel version that has it).
Result<uint64_t> RecoveryFlags(uint64_t kernel_features, Recovery mode);

// Whether a device can combine recovery `mode` with the zero-copy choice:
// explicit registration is refused with recovery, since a server killed
// while it holds buffers it registered by hand has left the device's
// control path hung on Linux 7.2 (the next STOP_DEV never returns). A
// recovery device uses automatic registration or copies.
Result<void> CheckRecoveryDataPath(Recovery mode, ZeroCopy zero_copy);

// How a running device's server hands it to a new one (ublk restart)
// without failing I/O, from the device's UBLK_F_* flags: QUIESCE_DEV lets
// what is in flight complete first, where the kernel has it and the device
// has no batch commands (on 7.2 QUIESCE_DEV of a batch device fails what
// arrives meanwhile); otherwise the server leaves as a crash would, which
// fails nothing only in recovery mode reissue. A device without recovery
// cannot be handed over at all.
enum class HandOverWay : uint8_t { kQuiesce, kLeaveAsCrash, kNone };
HandOverWay HandOverWayOf(uint64_t dev_flags);
// For kNone: why, in words that fit after "device N: ".
std::string WhyNoHandOver(uint64_t dev_flags);

// The recovery mode a device's negotiated flags give it.
Recovery RecoveryOfDevice(uint64_t dev_flags);

// How request data moves on an existing device, from its negotiated flags:
// the new server must use the data path the device was created with.
DataPath DataPathOfDevice(uint64_t dev_flags, DataAccess access);

// True while the device has no server and waits for one (QUIESCED, FAIL_IO).
bool WaitsForServer(const abi::DevInfo& info);

// Whether the state file describes the kernel's device and the device can be
// taken over now: recovery flags, state QUIESCED or FAIL_IO, same id, queues,
// depth and flags. The error names the first mismatch.
Result<void> CheckRecoverable(const DeviceState& state,
                              const abi::DevInfo& info);

// True when pid is alive and runs ublk-server (not a recycled pid).
bool ServerAlive(pid_t pid);

}  // namespace ublk

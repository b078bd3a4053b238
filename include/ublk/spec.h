// DeviceSpec: everything that defines one ublk device, as the user asked.
//
// ctl/ builds it from the command line, the server receives it, and the state
// file /run/ublk/<id>.json records it so `list` and `recover` can read it
// back. Plain data; JSON conversion lives in spec_json.h.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace ublk {

inline constexpr uint16_t kDefaultQueues = 1;
inline constexpr uint16_t kDefaultDepth = 128;
inline constexpr uint64_t kDefaultNullSize = 250ULL << 30;  // like ublksrv
inline constexpr uint32_t kDefaultMaxIoBytes = 512u << 10;

// Whether request data may bypass the server's own buffers (-z).
enum class ZeroCopy : uint8_t {
  kBest,      // not asked: automatic registration where the kernel has it,
              // else copy
  kOff,       // copy through per-tag buffers
  kAuto,      // automatic buffer registration (UBLK_F_AUTO_BUF_REG, 6.16),
              // registering by hand when the kernel falls back
  kExplicit,  // register -> backend I/O -> unregister for every request
};

// What happens to the device when its server dies (-r, --recovery-mode).
enum class Recovery : uint8_t {
  kOff,      // the device is deleted with its server
  kReissue,  // USER_RECOVERY | USER_RECOVERY_REISSUE: the device waits
             // (QUIESCED) for `ublk recover`; I/O queues meanwhile, and
             // what the dead server had in flight is sent again
  kFailIo,   // USER_RECOVERY | USER_RECOVERY_FAIL_IO (6.13): the device
             // waits (FAIL_IO); I/O fails until it is recovered
};

struct DeviceSpec {
  std::string type;            // registry name: "null", ...
  std::optional<uint32_t> id;  // unset: the kernel picks
  uint16_t queues = kDefaultQueues;
  uint16_t depth = kDefaultDepth;
  std::string name;                 // free-form label for the operator
  std::optional<uint64_t> size;     // bytes; unset: the target's default
  std::string file;                 // backing file or device, if any
  uint32_t max_io_bytes = kDefaultMaxIoBytes;
  // Backing-file options (loop): where the device starts in the file, the
  // block size it presents, page-cache I/O instead of O_DIRECT, no writes.
  uint64_t offset = 0;
  uint32_t logical_block_size = 512;
  bool buffered = false;
  bool read_only = false;
  ZeroCopy zero_copy = ZeroCopy::kBest;
  Recovery recovery = Recovery::kOff;

  friend bool operator==(const DeviceSpec&, const DeviceSpec&) = default;
};

}  // namespace ublk

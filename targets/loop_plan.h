// Loop target decisions: from what the backing store is (BackingFacts) and
// what the user asked (LoopOptions, from the spec and the loop's table of
// options) to how the device looks and how it does I/O (LoopPlan).
//
// Pure functions with no I/O, so every rule is unit-tested without a file:
// which sizes and offsets are valid, when O_DIRECT is safe, which of
// discard / write-zeroes / volatile cache the device may advertise. The facts
// are gathered by ProbeBacking (loop_probe.cpp); the plan is applied by the
// loop target (loop.cpp).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "ublk/result.h"
#include "ublk/spec.h"
#include "ublk/target.h"
#include "ublk/target_options.h"

namespace ublk {

inline constexpr uint64_t kLoopBlockSizes[] = {512, 4096};

// The options only the loop target takes (registry.cpp names this table).
inline constexpr TargetOptionDef kLoopOptions[] = {
    {.name = "offset",
     .kind = OptionKind::kSize,
     .value_name = "SIZE",
     .help = "where the device starts in the backing store: a bare\n"
             "number counts 512-byte sectors (as the reference\n"
             "server's --offset), else bytes with a unit (4096B, 1M);\n"
             "a multiple of the logical block size; default 0",
     .max = INT64_MAX,
     .bare_is_sectors = true},
    {.name = "logical-block-size",
     .kind = OptionKind::kNumber,
     .value_name = "512|4096",
     .help = "block size the device presents (default 512); use\n"
             "4096 on a 4k-native backing store to keep O_DIRECT",
     .only = kLoopBlockSizes,
     .default_number = 512},
    {.name = "buffered",
     .kind = OptionKind::kFlag,
     .help = "go through the page cache instead of O_DIRECT\n"
             "(O_DIRECT is the default where the backing store's\n"
             "alignment allows it; otherwise add says why not);\n"
             "--buffered_io is the same (the reference spelling)"},
};

// What the loop target was asked for, typed.
struct LoopOptions {
  std::optional<uint64_t> size;  // unset: the rest of the backing store
  bool read_only = false;
  uint64_t offset = 0;
  uint32_t logical_block_size = 512;
  bool buffered = false;
};

// From a spec checked by CheckSpecOptions; unset options take the table's
// defaults.
LoopOptions LoopOptionsOf(const DeviceSpec& spec);

// What the backing file or block device offers, as probed at create time.
struct BackingFacts {
  bool is_block = false;
  uint64_t size = 0;              // bytes
  bool writable = false;          // opened read-write
  // Direct I/O: whether O_DIRECT could be set, and the alignment it needs
  // (statx STATX_DIOALIGN); 0 when the kernel did not say.
  bool direct_ok = false;
  uint32_t dio_offset_align = 0;
  uint32_t dio_mem_align = 0;
  // Block devices: from the device's queue limits; files: the file system.
  uint32_t logical_block = 512;   // smallest I/O the backing store takes
  uint32_t physical_block = 0;    // 0: unknown
  uint32_t io_opt = 0;            // 0: none
  bool rotational = false;
  bool write_back_cache = true;   // block devices: queue/write_cache
  // Discard: files punch holes, block devices take BLOCK_URING_CMD_DISCARD.
  bool can_discard = false;
  uint32_t discard_granularity = 0;
  // Block devices: fallocate(ZERO_RANGE) zeroes (with or without hardware
  // help). Files: punch/zero-range follow can_discard.
  bool can_zero = false;
};

// The I/O methods of one request kind on the backing store.
enum class ZeroMethod : uint8_t {
  kNone,
  kFileRanges,  // NOUNMAP: ZERO_RANGE (punch if unsupported), else PUNCH_HOLE
  kBlockZeroRange,  // fallocate(ZERO_RANGE) on the block device
};

struct LoopPlan {
  DeviceGeometry geometry;
  uint64_t offset = 0;   // bytes into the backing store where the device starts
  bool direct = false;   // O_DIRECT
  std::string buffered_reason;  // why not O_DIRECT, when direct is false
  bool block_discard = false;   // DISCARD via BLOCK_URING_CMD_DISCARD
  bool file_discard = false;    // DISCARD via PUNCH_HOLE
  ZeroMethod zero = ZeroMethod::kNone;
};

// Validates the loop options against the backing store and plans the
// device. `path` only names the file in messages. Errors are one line.
Result<LoopPlan> PlanLoop(const LoopOptions& options, const BackingFacts& facts,
                          const std::string& path);

// O_DIRECT decision alone: empty when direct I/O is safe, else the reason.
std::string WhyNotDirect(const LoopOptions& options, const BackingFacts& facts,
                         uint32_t page_size);

}  // namespace ublk

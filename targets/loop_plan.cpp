#include "loop_plan.h"

#include <algorithm>
#include <bit>

#include "option_table.h"

namespace ublk {
namespace {

// Without STATX_DIOALIGN we cannot know a file system's direct I/O
// alignment; 4096 covers every common sector size.
constexpr uint32_t kUnknownDioAlign = 4096;
// The kernel refuses block sizes above the page size (ublk_validate_params).
constexpr uint32_t kMaxBlock = 4096;

uint8_t Shift(uint32_t power_of_two) {
  return static_cast<uint8_t>(std::countr_zero(power_of_two));
}

std::string Num(uint64_t v) { return std::to_string(v); }

}  // namespace

LoopOptions LoopOptionsOf(const DeviceSpec& spec) {
  const TargetOptions& given = spec.options;
  LoopOptions o;
  o.size = spec.size;
  o.read_only = spec.read_only;
  o.offset = NumberOption(kLoopOptions, given, "offset");
  o.logical_block_size = static_cast<uint32_t>(
      NumberOption(kLoopOptions, given, "logical-block-size"));
  o.buffered = FlagOption(kLoopOptions, given, "buffered");
  return o;
}

std::string WhyNotDirect(const LoopOptions& o, const BackingFacts& facts,
                         uint32_t page_size) {
  if (o.buffered) return "--buffered was given";
  if (!facts.direct_ok)
    return "the backing store does not support O_DIRECT";
  const uint32_t lbs = o.logical_block_size;
  uint32_t align = facts.dio_offset_align;
  if (align == 0) {
    align = facts.is_block ? facts.logical_block : kUnknownDioAlign;
    if (lbs % align != 0)
      return "the backing file system does not report its direct I/O "
             "alignment and the logical block size " + Num(lbs) +
             " is below " + Num(align);
  }
  if (lbs % align != 0)
    return "the logical block size " + Num(lbs) +
           " is smaller than the backing store's direct I/O alignment " +
           Num(align) + " (use --logical-block-size " + Num(align) + ")";
  if (o.offset % align != 0)
    return "--offset " + Num(o.offset) +
           " is not a multiple of the backing store's direct I/O alignment " +
           Num(align);
  if (facts.dio_mem_align > page_size)
    return "the backing store needs " + Num(facts.dio_mem_align) +
           "-byte aligned buffers";
  return "";
}

Result<LoopPlan> PlanLoop(const LoopOptions& o, const BackingFacts& facts,
                          const std::string& path) {
  const uint32_t lbs = o.logical_block_size;
  if (lbs != 512 && lbs != 4096)
    return Invalid("--logical-block-size " + Num(lbs) + ": must be 512 or 4096");
  if (o.offset % lbs != 0)
    return Invalid("--offset " + Num(o.offset) +
                   " is not a multiple of the logical block size " + Num(lbs));
  if (o.offset >= facts.size)
    return Invalid("--offset " + Num(o.offset) + " is past the end of " +
                   path + " (" + Num(facts.size) + " bytes)");
  const uint64_t avail = facts.size - o.offset;
  uint64_t size = avail / lbs * lbs;
  if (o.size) {
    if (*o.size % lbs != 0)
      return Invalid("--size " + Num(*o.size) +
                     " is not a multiple of the logical block size " +
                     Num(lbs));
    if (*o.size > avail)
      return Invalid("--size " + Num(*o.size) + " is larger than " + path +
                     (o.offset ? " past --offset" : "") + " (" +
                     Num(avail) + " bytes)");
    size = *o.size;
  }
  if (size == 0)
    return Invalid(path + " is smaller than one " + Num(lbs) + "-byte block");

  LoopPlan plan;
  plan.offset = o.offset;
  plan.buffered_reason = WhyNotDirect(o, facts, kMaxBlock);
  plan.direct = plan.buffered_reason.empty();

  DeviceGeometry& g = plan.geometry;
  g.size_bytes = size;
  // Zero copy hands the request's own pages to O_DIRECT, which wants every
  // segment aligned to the block size (and the memory alignment): have the
  // block layer shape requests that way.
  if (plan.direct)
    g.dma_alignment = std::min(std::max(lbs, facts.dio_mem_align),
                               kMaxBlock) - 1;
  g.read_only = o.read_only || !facts.writable;
  g.rotational = facts.rotational;
  g.logical_bs_shift = Shift(lbs);
  uint32_t phys = facts.physical_block && std::has_single_bit(facts.physical_block)
                      ? facts.physical_block
                      : kMaxBlock;
  phys = std::clamp(phys, lbs, kMaxBlock);
  g.physical_bs_shift = Shift(phys);
  g.io_min_shift = Shift(phys);
  const bool opt_ok = facts.io_opt >= phys && std::has_single_bit(facts.io_opt);
  g.io_opt_shift = Shift(opt_ok ? facts.io_opt : phys);

  // Writes are durable only after FLUSH unless they go straight to a block
  // device without a write-back cache. Files always need fdatasync: O_DIRECT
  // skips the page cache but not the file system's metadata (allocations).
  if (!g.read_only) {
    g.volatile_cache = !facts.is_block || !plan.direct || facts.write_back_cache;
    g.fua = g.volatile_cache;  // served with RWF_DSYNC
  }
  // A block device takes discard and zeroing only in its own block size.
  const bool aligned = !facts.is_block || lbs >= facts.logical_block;
  if (!g.read_only && facts.can_discard && aligned) {
    g.discard = true;
    plan.block_discard = facts.is_block;
    plan.file_discard = !facts.is_block;
    g.discard_granularity = std::max(lbs, facts.discard_granularity);
  }
  if (!g.read_only) {
    if (!facts.is_block && facts.can_discard)
      plan.zero = ZeroMethod::kFileRanges;
    else if (facts.is_block && facts.can_zero && aligned)
      plan.zero = ZeroMethod::kBlockZeroRange;
    g.write_zeroes = plan.zero != ZeroMethod::kNone;
  }
  return plan;
}

}  // namespace ublk

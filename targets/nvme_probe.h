// Finding and describing the NVMe namespace behind `-t nvme -f PATH`.
//
// Accepts the namespace's generic char device (/dev/ngXnY) or its block
// device (/dev/nvmeXnY, mapped to the char device), opens it, and asks the
// controller (Identify Namespace / Controller through libnvme) for what the
// ublk device must mirror. Main thread only; blocks on admin commands.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "nvme_pi.h"
#include "ublk/fd.h"
#include "ublk/result.h"

namespace ublk {

struct NvmeNamespace {
  std::string char_path;  // /dev/ngXnY, what the I/O goes to
  bool read_only = false;  // opened O_RDONLY (--read-only)
  uint32_t nsid = 0;
  uint8_t lba_shift = 9;
  uint64_t blocks = 0;             // namespace size in logical blocks
  nvme::PiFormat pi;                       // metadata and protection information
  uint32_t max_io_bytes = 0;       // from MDTS and the kernel's queue limit
  uint32_t physical_block = 0;     // bytes, from sysfs when known
  bool volatile_cache = false;     // VWC: FLUSH (and FUA) mean something
  bool write_zeroes = false;       // ONCS bit 3
  bool deallocate = false;         // ONCS bit 2 (Dataset Management)
  // The kernel NVMe driver's limits for this namespace (sysfs); 0: unknown.
  uint64_t max_discard_bytes = 0;
  uint64_t max_write_zeroes_bytes = 0;
  // Its DMA constraints (queue/virt_boundary_mask, dma_alignment,
  // max_segments, max_segment_size); 0: unknown.
  uint64_t virt_boundary_mask = 0;
  uint32_t dma_alignment = 0;
  uint32_t max_segments = 0;
  uint32_t max_segment_size = 0;
  // A zoned (ZNS) namespace; zone_blocks 0 for an NVM one.
  struct Zones {
    uint64_t zone_blocks = 0;     // zone size of the active LBA format
    uint64_t capacity_blocks = 0; // every zone's capacity; 0: they differ
    uint32_t max_open = 0;        // 0: no limit
    uint32_t max_active = 0;
    uint32_t append_bytes = 0;    // zone append limit (ZASL, MDTS)
  } zones;
  bool poll_queues = false;  // queue/io_poll: the controller has poll queues
  std::string block_name;    // nvmeXnY, for messages
};

// "nvme0n1" -> "ng0n1"; "" when name is not a namespace block device.
std::string GenericNameForBlock(const std::string& name);
// The command set identifier (CSI) in an Identify Namespace Identification
// Descriptor list of LEN bytes; -1 when the list names none (a controller
// older than NVMe 1.4 lists no CSI: its namespaces are NVM).
int CommandSetOf(const uint8_t* list, size_t len);
// Logical block size shift from Identify Namespace's FLBAS byte and the
// LBA format entry it selects (the index spans bits 0-3 and 5-6).
unsigned LbaFormatIndex(uint8_t flbas);

// Opens the namespace into *fd (O_RDWR, or O_RDONLY when read_only: the
// kernel then lets only a CAP_SYS_ADMIN opener send writes, and the target
// sends none) and describes it. Errors are one line naming PATH: not found,
// not NVMe, a controller node, no permission, a command set other than NVM
// or Zoned, a metadata format that is not served
// (nvme::DescribePi).
Result<NvmeNamespace> OpenNvmeNamespace(const std::string& path,
                                        bool read_only, Fd* fd);

}  // namespace ublk

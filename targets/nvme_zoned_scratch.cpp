#include "nvme_zoned_scratch.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>

#include "nvme_zoned.h"

namespace ublk::nvme {

Result<ZonedScratch> OpenZonedScratch(QueueContext& q, uint16_t depth,
                                      uint64_t zones, uint32_t max_io_bytes) {
  ZonedScratch s;
  s.zones_per_tag = static_cast<uint32_t>(
      std::min<uint64_t>(zones, std::max(max_io_bytes / kZoneReportEntry, 1u)));
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  // The answer's header, then a descriptor per zone.
  const size_t bytes = size_t{s.zones_per_tag + 1} * kZoneReportEntry;
  s.stride = (bytes + page - 1) / page * page;

  auto zero = Fd::Open("/dev/zero", O_RDONLY);
  if (!zero) return zero.error();
  s.zero = std::move(*zero);
  Fd report(::memfd_create("ublk-zone-reports", MFD_CLOEXEC));
  if (!report.valid()) return SysError(errno, "creating the zone report memfd");
  // Sparse: a tag's pages are allocated when a report first fills them.
  if (::ftruncate(report.get(), static_cast<off_t>(s.stride * depth)) != 0)
    return SysError(errno, "sizing the zone report memfd");
  auto map = Mmap::Map(s.stride * depth, PROT_READ | PROT_WRITE, MAP_SHARED,
                       report.get(), 0, "the zone report memfd");
  if (!map) return map.error();
  s.report = std::move(report);
  s.map = std::move(*map);

  auto zero_slot = q.AddFile(s.zero.get());
  if (!zero_slot) return zero_slot.error();
  auto report_slot = q.AddFile(s.report.get());
  if (!report_slot) return report_slot.error();
  s.zero_slot = *zero_slot;
  s.report_slot = *report_slot;
  return s;
}

}  // namespace ublk::nvme

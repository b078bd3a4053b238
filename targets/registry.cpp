#include "registry.h"

#include "loop.h"
#include "nbd.h"
#include "null.h"
#include "nvme.h"

namespace ublk {
namespace {

constexpr TargetType kTypes[] = {
    {"null", "discards writes, reads return no data; for testing and benchmarks",
     DataAccess::kNone, FileUse::kNone, "", /*takes_size=*/true,
     /*takes_read_only=*/false, {}, &CreateNullTarget},
    {"nvme", "an NVMe namespace (-f /dev/ngXnY) through io_uring passthrough",
     DataAccess::kBuffer, FileUse::kRequired, "-f /dev/ngXnY (or /dev/nvmeXnY)",
     true, true, kNvmeOptions,
     &CreateNvmeTarget},
    {"loop", "a regular file or block device (-f PATH), like the kernel's loop",
     DataAccess::kBuffer, FileUse::kRequired, "a backing file: -f PATH", true,
     true, kLoopOptions,
     &CreateLoopTarget},
    {"nbd", "an export of an NBD server (-f nbd://HOST[:PORT][/EXPORT] or "
            "nbd+unix:///EXPORT?socket=PATH)",
     DataAccess::kMemoryOrAutoBuf, FileUse::kRequired,
     "the NBD server: -f nbd://HOST[:PORT][/EXPORT] or "
     "nbd+unix:///EXPORT?socket=PATH",
     /*takes_size=*/false, /*takes_read_only=*/true, kNbdOptions,
     &CreateNbdTarget,
     /*file_is_address=*/true, /*one_thread_per_queue=*/true},
};

}  // namespace

std::span<const TargetType> TargetTypes() { return kTypes; }

const TargetType* FindTargetType(std::string_view name) {
  for (const TargetType& t : kTypes)
    if (t.name == name) return &t;
  return nullptr;
}

}  // namespace ublk

// nvme: an NVMe namespace behind /dev/ublkbN through io_uring passthrough.
//
// Each ublk request becomes one NVMe command sent with IORING_OP_URING_CMD to
// the namespace's generic char device (/dev/ngXnY) on the queue's own ring
// (128-byte SQEs, 32-byte CQEs), bypassing the block layer on the backend
// side: READ/WRITE -> Read/Write on the tag's fixed buffer
// (IORING_URING_CMD_FIXED; in zero-copy mode the request's own pages go
// straight to the controller's DMA), FLUSH -> Flush, WRITE_ZEROES -> Write Zeroes,
// DISCARD -> Dataset Management (deallocate). The device mirrors the
// namespace: logical block size, capacity, max I/O from MDTS, FLUSH/FUA only
// with a volatile write cache, discard/write-zeroes only when ONCS has them.
// A zoned (ZNS) namespace becomes a host-managed zoned device (nvme_zoned.h):
// REPORT_ZONES -> Zone Management Receive, the zone ops -> Zone Management
// Send, ZONE_APPEND -> Zone Append, sectors remapped when the zone size is
// not a power of two.
//
// --poll sends the commands on a second ring of the queue, created with
// IORING_SETUP_IOPOLL, so they go to the controller's poll queues and
// complete by polling instead of interrupts (RingNeeds::polled). Copy mode
// only; refused where the controller has no poll queues.
#pragma once

#include <memory>

#include "ublk/target_options.h"

#include "ublk/result.h"
#include "ublk/spec.h"
#include "ublk/target.h"

namespace ublk {

inline constexpr TargetOptionDef kNvmeOptions[] = {
    {.name = "poll",
     .kind = OptionKind::kFlag,
     .help = "send the NVMe commands on a polled ring (IOPOLL) to the\n"
             "controller's poll queues (boot with nvme.poll_queues=N);\n"
             "copy mode only: not with -z, --usercopy or a namespace\n"
             "with metadata"}};

Result<std::unique_ptr<Target>> CreateNvmeTarget(const DeviceSpec& spec);

}  // namespace ublk

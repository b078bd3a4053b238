// ZonedScratch: what one queue of a zoned nvme device needs beside the
// request's buffer.
//
// The request's buffer may be the request's own pages (zero copy), which
// the server cannot touch; only fixed-buffer I/O reaches them. So the two
// things a zoned READ or REPORT_ZONES writes that come from the server go
// there as reads into the fixed buffer:
// - the zeroes beyond a zone's capacity: a read of /dev/zero;
// - a translated zone report: the Zone Management Receive answer comes into
//   the tag's slot of a memfd mapped here, is rewritten in place, and is
//   read from the memfd into the buffer.
// The same reads serve copy and user copy, whose per-tag buffers are fixed
// buffers too. Both files sit in the queue ring's fixed-file table. Set up
// once per queue (not the hot path); used only by the queue's thread.
#pragma once

#include <cstddef>
#include <cstdint>

#include "ublk/fd.h"
#include "ublk/mmap.h"
#include "ublk/queue_context.h"
#include "ublk/result.h"

namespace ublk::nvme {

struct ZonedScratch {
  int zero_slot = -1;    // /dev/zero
  int report_slot = -1;  // the memfd
  // Zones one REPORT_ZONES answer may hold: all of them, or what the
  // largest request buffer takes.
  uint32_t zones_per_tag = 0;
  size_t stride = 0;  // bytes per tag, a multiple of the page size
  Fd zero;
  Fd report;
  Mmap map;

  uint8_t* For(uint16_t tag) const {
    return static_cast<uint8_t*>(map.data()) + tag * stride;
  }
  uint64_t OffsetOf(uint16_t tag) const { return uint64_t{tag} * stride; }
};

// For `depth` tags of a device with `zones` zones, whose requests are at
// most `max_io_bytes`; the files are added to `q`'s table.
Result<ZonedScratch> OpenZonedScratch(QueueContext& q, uint16_t depth,
                                      uint64_t zones, uint32_t max_io_bytes);

}  // namespace ublk::nvme

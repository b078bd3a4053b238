// Target: the backend behind a ublk device (null, loop, nvme, ...).
//
// A Target is created once per device from its DeviceSpec (opening and
// validating the backend), tells the server what the device looks like and
// what its queue rings need, and opens one TargetQueue per hardware queue.
// The Target itself is used only from the server's main thread; each
// TargetQueue only from its own queue thread, so TargetQueue needs no locks.
//
// I/O contract: Queue() either finishes a request at once (IoStatus::Done
// with bytes transferred or -errno) or queues backend I/O on the queue's ring
// through QueueContext::GetSqe and returns IoStatus::Pending(). Each backend
// completion comes back to Complete(), which again finishes or stays pending.
// Both are noexcept, never block and never allocate.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ublk/integrity.h"
#include "ublk/queue_context.h"
#include "ublk/result.h"

namespace ublk {

// How the device presents itself to the kernel (becomes ublk params).
struct DeviceGeometry {
  uint64_t size_bytes = 0;
  uint8_t logical_bs_shift = 9;
  uint8_t physical_bs_shift = 12;
  uint8_t io_opt_shift = 12;
  uint8_t io_min_shift = 9;
  bool read_only = false;
  bool rotational = false;
  bool volatile_cache = false;  // the kernel then sends FLUSH
  bool fua = false;             // only with volatile_cache
  bool discard = false;
  bool write_zeroes = false;
  uint32_t discard_granularity = 4096;
  // Backend limits; 0 means none beyond the server's own.
  uint32_t max_io_bytes = 0;              // largest read/write
  uint32_t max_discard_sectors = 0;       // per DISCARD, 512-byte sectors
  uint32_t max_write_zeroes_sectors = 0;  // per WRITE_ZEROES
  // What the backend's DMA needs of a request's memory. Only zero copy
  // hands it the request's own pages, so only zero copy sets them on the
  // device; 0 means no constraint beyond the kernel's default.
  uint64_t virt_boundary_mask = 0;  // no gap inside a (mask + 1) window
  uint32_t dma_alignment = 0;       // mask for segment offsets and lengths
  uint16_t max_segments = 0;
  uint32_t max_segment_size = 0;    // bytes
  // With metadata the device needs UBLK_F_INTEGRITY and user copy; each
  // request then carries its integrity buffer (Request::meta_*).
  IntegrityProfile integrity;
  // A host-managed zoned device (UBLK_F_ZONED: zero copy or user copy) when
  // zone_sectors is not 0: a power of two, the device size a multiple of it.
  // The target then serves the zone ops and REPORT_ZONES (abi::BlkZone
  // entries written to the request's buffer).
  struct Zoned {
    uint32_t zone_sectors = 0;
    uint32_t capacity_sectors = 0;  // every zone's; 0: they differ
    uint32_t max_open = 0;          // 0: no limit
    uint32_t max_active = 0;
    uint32_t max_append_sectors = 0;
  } zoned;
};

// Whether the target reads or writes request data at all.
enum class DataAccess {
  kNone,    // never touches data (null): no buffers, no copies
  kBuffer,  // reads/writes fixed buffer Request::buf_index only through
            // Request::buf_addr (so it works in copy and zero-copy mode alike)
  kMemoryOrAutoBuf,  // copy mode (the default): reads/writes
                     // Request::buf_addr as plain memory; with automatic
                     // buffer registration (only when asked: -z) only
                     // through fixed buffer buf_index at buf_addr, by I/O
                     // that needs the pages registered before the request
                     // arrives (nbd: a socket's READ_FIXED/WRITE_FIXED),
                     // so never registered by hand: no explicit zero
                     // copy, and no user copy
};

struct RingNeeds {
  bool big_sqe = false;  // 128-byte SQEs (NVMe passthrough)
  bool big_cqe = false;  // 32-byte CQEs
  unsigned sqes_per_io = 1;  // backend SQEs one request may need at once
  // The backend's SQEs go to a second, polled ring (IORING_SETUP_IOPOLL)
  // of the queue, with the same fixed files and per-tag buffers; the ublk
  // commands stay on the queue's own ring. Only with a data path whose
  // buffers are the per-tag ones (copy mode): a zero-copy request's pages
  // are registered in the ublk ring's table, which the polled ring cannot
  // see, and user copy links its copy to the backend I/O on one ring.
  bool polled = false;
};

// One ublk request as handed to the target. Valid until it is finished.
struct Request {
  uint16_t tag;
  uint8_t op;          // abi::kOp*
  uint32_t op_flags;   // the descriptor's flags (abi::kIoF*), unshifted
  uint64_t offset;     // bytes from the device start
  uint32_t length;     // bytes (0 for FLUSH)
  // Data lives in fixed buffer `buf_index` of the queue's ring (read it
  // anew for every SQE: it may change between submissions of one request).
  // buf_addr is the address of its first byte as fixed-buffer I/O
  // (READ_FIXED, NVMe IORING_URING_CMD_FIXED) takes it: the per-tag buffer's
  // user address in copy mode, 0 in zero-copy mode, where the slot holds the
  // request's own pages and the address field is a byte offset into them.
  // Either way byte n of the request is at buf_addr + n. 0 with
  // DataAccess::kNone.
  uint64_t buf_addr;
  uint16_t buf_index;
  // With IntegrityProfile::metadata_size: the tag's metadata buffer (user
  // address, room for the largest request) and how many of its bytes are
  // the request's integrity data (READ/WRITE with abi::kIoFIntegrity: the
  // queue fills it before a WRITE's first SQE and copies it out after a
  // READ); 0 when the request has none, the buffer is then scratch.
  uint64_t meta_addr = 0;
  uint32_t meta_len = 0;
};

struct Completion {
  int res;               // cqe->res of the backend I/O
  uint16_t target_data;  // what the target passed to GetSqe
  const void* big_cqe;   // the extra 16 bytes of a 32-byte CQE, else nullptr
};

class IoStatus {
 public:
  static constexpr IoStatus Done(int result) { return IoStatus(false, result); }
  static constexpr IoStatus Pending() { return IoStatus(true, 0); }
  // A ZONE_APPEND done: `bytes` written at device sector `sector`.
  static constexpr IoStatus Appended(int bytes, uint64_t sector) {
    return IoStatus(false, bytes, sector);
  }
  constexpr bool pending() const { return pending_; }
  constexpr int result() const { return result_; }
  constexpr uint64_t append_sector() const { return sector_; }

 private:
  constexpr IoStatus(bool pending, int result, uint64_t sector = 0)
      : pending_(pending), result_(result), sector_(sector) {}
  bool pending_;
  int result_;
  uint64_t sector_;
};

class TargetQueue {
 public:
  virtual ~TargetQueue() = default;
  virtual IoStatus Queue(QueueContext& q, const Request& req) noexcept = 0;
  virtual IoStatus Complete(QueueContext& q, const Request& req,
                            const Completion& c) noexcept = 0;
  // A completion of an SQE from QueueContext::GetQueueSqe (c.target_data as
  // given there). The target finishes requests with
  // QueueContext::FinishRequest. Only targets that ask for queue SQEs see
  // it.
  virtual void CompleteQueueOp(QueueContext& q, const Completion& c) noexcept {
    (void)q;
    (void)c;
  }
};

class Target {
 public:
  virtual ~Target() = default;
  virtual DeviceGeometry Geometry() const = 0;
  virtual DataAccess data_access() const = 0;
  virtual RingNeeds ring_needs() const { return {}; }
  // What the user should know about how the backend was opened, one line
  // each (a read-only device because writes were refused, buffered I/O and
  // why). The target does not log them: the server does, and passes them in
  // its report to `ublk add`, which prints them.
  virtual std::vector<std::string> notes() const { return {}; }
  // What the backend's connection is doing now, for `ublk list`
  // ("connected", "reconnecting", ...); empty for a target without one.
  // Main thread, while the queues run: reads only what they publish.
  virtual std::string connection_state() const { return ""; }
  // The device is being deleted (main thread, before STOP_DEV, which waits
  // for every request the kernel has handed out): what waits for the
  // backend to come back (an nbd reconnect) fails now instead, so the
  // delete never waits on a backend that is gone. Requests the backend is
  // serving finish as usual.
  virtual void Stopping() {}
  // Called on the queue thread during queue setup (may register files).
  virtual Result<std::unique_ptr<TargetQueue>> OpenQueue(QueueContext& q) = 0;
  // Whether the device may become `bytes` long while it runs (`ublk
  // resize`): the backend holds that much now. Main thread; the queues
  // keep serving. The default refuses.
  virtual Result<void> CheckResize(uint64_t bytes) const {
    (void)bytes;
    return Invalid("this target's size cannot change");
  }
};

}  // namespace ublk

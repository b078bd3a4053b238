#include "nvme.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "nvme_cmd.h"
#include "nvme_pi.h"
#include "nvme_probe.h"
#include "nvme_zoned.h"
#include "nvme_zoned_scratch.h"
#include "option_table.h"
#include "ublk/abi.h"
#include "ublk/log.h"

namespace ublk {
namespace {

class NvmeQueue final : public TargetQueue {
 public:
  NvmeQueue(const NvmeNamespace& ns, const nvme::ZoneMap& zones,
            int file_slot, uint16_t depth, nvme::ZonedScratch scratch)
      : ns_(ns), zones_(zones), slot_(file_slot), ranges_(depth),
        scratch_(std::move(scratch)),
        report_bytes_(zones.zones != 0 ? depth : 0) {}

  IoStatus Queue(QueueContext& q, const Request& req) noexcept override {
    // The block layer refuses writes to a read-only device before they get
    // here; this keeps the namespace unchanged even if one did.
    if (ns_.read_only && req.op != abi::kOpRead && req.op != abi::kOpFlush &&
        req.op != abi::kOpReportZones)
      return IoStatus::Done(-EROFS);
    if (zones_.zones != 0) return QueueZoned(q, req);
    const unsigned shift = ns_.lba_shift;
    const uint64_t mask = (1u << shift) - 1;
    if ((req.offset | req.length) & mask) return IoStatus::Done(-EINVAL);
    const uint64_t slba = req.offset >> shift;
    const uint32_t blocks = req.length >> shift;
    nvme::UringCmd cmd;
    bool fixed = false;
    switch (req.op) {
      case abi::kOpRead:
      case abi::kOpWrite:
        cmd = nvme::BuildReadWrite(
            req.op == abi::kOpWrite, ns_.nsid, slba, blocks,
            req.buf_addr, req.length,
            ns_.volatile_cache && (req.op_flags & abi::kIoFFua));
        if (ns_.pi.ms != 0) AddMetadata(req, slba, blocks, &cmd);
        fixed = true;
        break;
      case abi::kOpFlush:
        if (!ns_.volatile_cache) return IoStatus::Done(0);
        cmd = nvme::BuildFlush(ns_.nsid);
        break;
      case abi::kOpWriteZeroes:
        cmd = nvme::BuildWriteZeroes(ns_.nsid, slba, blocks,
                                     !(req.op_flags & abi::kIoFNoUnmap));
        if (ns_.pi.pi_type != 0) {
          // The controller writes valid PI for the zeroes, as the kernel
          // driver has it do (PRACT); no metadata moves.
          nvme::Protection p = nvme::ProtectionFor(ns_.pi, false);
          p.metadata = false;
          nvme::ApplyProtection(&cmd, ns_.pi, p, slba, 0, 0);
        }
        break;
      case abi::kOpDiscard:
        cmd = nvme::BuildDeallocate(ns_.nsid, slba, blocks, &ranges_[req.tag]);
        break;
      default:
        return IoStatus::Done(-EOPNOTSUPP);
    }
    if (blocks > nvme::kMaxBlocksPerCmd && req.op != abi::kOpDiscard)
      return IoStatus::Done(-EINVAL);  // the limits we advertise prevent it
    return Submit(q, req, cmd, fixed);
  }

  // A zoned namespace: sectors mapped zone by zone (nvme_zoned.h), the
  // zone ops sent as Zone Management Send, REPORT_ZONES as Receive into the
  // tag's scratch (nvme_zoned_scratch.h), then into the request's buffer.
  IoStatus QueueZoned(QueueContext& q, const Request& req) noexcept {
    const unsigned shift = ns_.lba_shift;
    if (((req.offset | req.length) & ((1u << shift) - 1)) &&
        req.op != abi::kOpReportZones)
      return IoStatus::Done(-EINVAL);
    const uint64_t sector = req.offset >> 9;
    uint64_t room = 0;
    const uint64_t lba = nvme::SectorToLba(zones_, sector, &room);
    const uint64_t zone_lba =
        sector / zones_.zone_sectors * zones_.zone_blocks;
    const uint64_t room_bytes = room << 9;
    const bool fua = ns_.volatile_cache && (req.op_flags & abi::kIoFFua);
    nvme::UringCmd cmd;
    switch (req.op) {
      case abi::kOpRead: {
        // Beyond the zone's capacity (a rounded-up zone's tail) reads as
        // zeroes, read from /dev/zero into the request's buffer after the
        // data (the buffer may be the request's own pages: zero copy).
        const uint32_t have =
            static_cast<uint32_t>(std::min<uint64_t>(room_bytes, req.length));
        if (have == 0) return ReadZeroes(q, req, 0);
        cmd = nvme::BuildReadWrite(false, ns_.nsid, lba, have >> shift,
                                   req.buf_addr, have, false);
        return Submit(q, req, cmd, true,
                      have < req.length ? kZeroTail : uint16_t{0});
      }
      case abi::kOpWrite:
      case abi::kOpZoneAppend:
        if (room_bytes < req.length) return IoStatus::Done(-EIO);
        cmd = req.op == abi::kOpWrite
                  ? nvme::BuildReadWrite(true, ns_.nsid, lba,
                                         req.length >> shift, req.buf_addr,
                                         req.length, fua)
                  : nvme::BuildZoneAppend(ns_.nsid, zone_lba,
                                          req.length >> shift, req.buf_addr,
                                          req.length, fua);
        return Submit(q, req, cmd, true);
      case abi::kOpFlush:
        if (!ns_.volatile_cache) return IoStatus::Done(0);
        return Submit(q, req, nvme::BuildFlush(ns_.nsid), false);
      case abi::kOpZoneOpen:
      case abi::kOpZoneClose:
      case abi::kOpZoneFinish:
      case abi::kOpZoneReset:
        return Submit(q, req,
                      nvme::BuildZoneMgmtSend(ns_.nsid, zone_lba,
                                              ZoneAction(req.op), false),
                      false);
      case abi::kOpZoneResetAll:
        return Submit(q, req,
                      nvme::BuildZoneMgmtSend(ns_.nsid, 0, nvme::kZsaReset,
                                              true),
                      false);
      case abi::kOpReportZones: {
        // The kernel wants every zone it asks for (it numbers a second
        // request's zones from 0 again, so a short answer would overwrite
        // the first ones): short only at the device's end. The answer
        // comes into the tag's scratch (it has a 64-byte header and
        // needs translating), then goes to the request's buffer.
        const uint32_t wanted = ZonesWanted(req);
        if (wanted == 0) return IoStatus::Done(-EIO);
        cmd = nvme::BuildZoneMgmtRecv(
            ns_.nsid, zone_lba, reinterpret_cast<uintptr_t>(scratch_.For(req.tag)),
            (wanted + 1) * nvme::kZoneReportEntry);
        return Submit(q, req, cmd, false, kReportIn);
      }
      default:
        return IoStatus::Done(-EOPNOTSUPP);
    }
  }

  // Bytes [from, length) of a READ as zeroes: a read of /dev/zero into the
  // request's fixed buffer.
  IoStatus ReadZeroes(QueueContext& q, const Request& req,
                      uint32_t from) noexcept {
    io_uring_sqe* sqe = q.GetSqe(req.tag, kZeroesDone);
    if (sqe == nullptr) return IoStatus::Done(-EIO);
    io_uring_prep_read_fixed(sqe, scratch_.zero_slot,
                             reinterpret_cast<void*>(req.buf_addr + from),
                             req.length - from, 0, req.buf_index);
    sqe->flags |= IOSQE_FIXED_FILE;
    return IoStatus::Pending();
  }

  // A translated zone report, `bytes` of the tag's scratch, into the
  // request's fixed buffer: a read from the scratch's memfd.
  IoStatus CopyReport(QueueContext& q, const Request& req,
                      uint32_t bytes) noexcept {
    report_bytes_[req.tag] = bytes;
    io_uring_sqe* sqe = q.GetSqe(req.tag, kReportOut);
    if (sqe == nullptr) return IoStatus::Done(-EIO);
    io_uring_prep_read_fixed(sqe, scratch_.report_slot,
                             reinterpret_cast<void*>(req.buf_addr), bytes,
                             scratch_.OffsetOf(req.tag), req.buf_index);
    sqe->flags |= IOSQE_FIXED_FILE;
    return IoStatus::Pending();
  }

  static uint8_t ZoneAction(uint8_t op) noexcept {
    switch (op) {
      case abi::kOpZoneOpen: return nvme::kZsaOpen;
      case abi::kOpZoneClose: return nvme::kZsaClose;
      case abi::kOpZoneFinish: return nvme::kZsaFinish;
      default: return nvme::kZsaReset;
    }
  }

  IoStatus Submit(QueueContext& q, const Request& req,
                  const nvme::UringCmd& cmd, bool fixed,
                  uint16_t stage = 0) noexcept {
    io_uring_sqe* sqe = q.GetSqe(req.tag, stage);
    // No SQE only when flushing the ring failed: the ring is broken, which
    // the block layer hears as -EIO (as from loop). -EAGAIN would become
    // BLK_STS_AGAIN, which blk-mq expects only for REQ_NOWAIT bios, so it
    // is no valid answer to a block request.
    if (sqe == nullptr) return IoStatus::Done(-EIO);
    io_uring_prep_rw(IORING_OP_URING_CMD, sqe, slot_, nullptr, 0, 0);
    sqe->flags = IOSQE_FIXED_FILE;
    sqe->cmd_op = nvme::kUringCmdIo;
    if (fixed) {
      sqe->uring_cmd_flags = IORING_URING_CMD_FIXED;
      sqe->buf_index = req.buf_index;
    }
    static_assert(offsetof(io_uring_sqe, cmd) == 48);
    // The command area is the SQE's second half (bytes 48-127 of a 128-byte
    // SQE); liburing declares it as a zero-length array.
    std::memcpy(reinterpret_cast<unsigned char*>(sqe) + 48, &cmd, sizeof(cmd));
    return IoStatus::Pending();
  }

  // The request's metadata goes with the command, checked by the
  // controller as the kernel driver would have it checked; without an
  // integrity payload, what ProtectionFor says instead.
  void AddMetadata(const Request& req, uint64_t slba, uint32_t blocks,
                   nvme::UringCmd* cmd) noexcept {
    const bool payload = req.meta_len != 0;
    const nvme::Protection p = nvme::ProtectionFor(ns_.pi, payload);
    const uint32_t meta_len = blocks * ns_.pi.ms;
    // Scratch metadata for a WRITE without payload: zeroes, never stale.
    if (p.metadata && !payload && req.op == abi::kOpWrite)
      std::memset(reinterpret_cast<void*>(req.meta_addr), 0, meta_len);
    nvme::ApplyProtection(cmd, ns_.pi, p, slba, req.meta_addr, meta_len);
  }

  IoStatus Complete(QueueContext& q, const Request& req,
                    const Completion& c) noexcept override {
    // The zoned stages that are plain reads (not NVMe commands) end here,
    // all or nothing.
    if (c.target_data == kZeroesDone || c.target_data == kReportOut) {
      const uint32_t want = c.target_data == kReportOut
                                ? report_bytes_[req.tag]
                                : req.length - ZeroesFrom(req);
      if (c.res < 0) return IoStatus::Done(c.res);
      if (static_cast<uint32_t>(c.res) != want) return IoStatus::Done(-EIO);
      return IoStatus::Done(c.target_data == kReportOut
                                ? c.res
                                : static_cast<int>(req.length));
    }
    int err = nvme::StatusToErrno(c.res);
    if (err != 0) {
      if (!status_logged_) {  // once per queue: the error path, not traffic
        status_logged_ = true;
        log::Debug("nvme {}: op {} at {} failed, status {:#x} -> {}",
                   ns_.char_path, req.op, req.offset, c.res, err);
      }
      return IoStatus::Done(err);
    }
    if (zones_.zones != 0) return CompleteZoned(q, req, c);
    const bool data = req.op == abi::kOpRead || req.op == abi::kOpWrite;
    return IoStatus::Done(data ? static_cast<int>(req.length) : 0);
  }

  IoStatus CompleteZoned(QueueContext& q, const Request& req,
                         const Completion& c) noexcept {
    switch (req.op) {
      case abi::kOpRead:
        if (c.target_data == kZeroTail)
          return ReadZeroes(q, req, ZeroesFrom(req));
        return IoStatus::Done(static_cast<int>(req.length));
      case abi::kOpWrite:
        return IoStatus::Done(static_cast<int>(req.length));
      case abi::kOpZoneAppend: {
        uint64_t lba = 0;  // the command's result, DW0 | DW1 << 32
        if (c.big_cqe != nullptr) std::memcpy(&lba, c.big_cqe, sizeof(lba));
        return IoStatus::Appended(static_cast<int>(req.length),
                                  nvme::LbaToSector(zones_, lba));
      }
      case abi::kOpReportZones: {
        const uint32_t wanted = ZonesWanted(req);
        return CopyReport(q, req,
                          nvme::TranslateZoneReport(
                              zones_, scratch_.For(req.tag), wanted, wanted));
      }
      default:
        return IoStatus::Done(0);
    }
  }

  // How many zones a REPORT_ZONES answer holds: what its buffer takes, at
  // most what the tag's scratch does.
  uint32_t ZonesWanted(const Request& req) const noexcept {
    return std::min(req.length / nvme::kZoneReportEntry, scratch_.zones_per_tag);
  }

  // Where a READ's zeroes start: the end of the zone's capacity, or 0 when
  // the read starts beyond it.
  uint32_t ZeroesFrom(const Request& req) const noexcept {
    uint64_t room = 0;
    (void)nvme::SectorToLba(zones_, req.offset >> 9, &room);
    return static_cast<uint32_t>(std::min<uint64_t>(room << 9, req.length));
  }

 private:
  const NvmeNamespace& ns_;
  const nvme::ZoneMap& zones_;
  int slot_;
  std::vector<nvme::DsmRange> ranges_;  // one per tag, for DISCARD
  // Stages of a zoned READ and REPORT_ZONES (Completion::target_data).
  static constexpr uint16_t kZeroTail = 1;    // data read, zeroes follow
  static constexpr uint16_t kZeroesDone = 2;  // the zeroes are in
  static constexpr uint16_t kReportIn = 3;    // the answer is in the scratch
  static constexpr uint16_t kReportOut = 4;   // and in the request's buffer
  nvme::ZonedScratch scratch_;  // empty for a conventional namespace
  std::vector<uint32_t> report_bytes_;  // per tag: the report being copied
  bool status_logged_ = false;
};

class NvmeTarget final : public Target {
 public:
  NvmeTarget(NvmeNamespace ns, Fd fd, uint64_t size, bool poll)
      : ns_(std::move(ns)), fd_(std::move(fd)), size_(size), poll_(poll) {
    if (ns_.zones.zone_blocks != 0) {
      zones_ = nvme::MakeZoneMap(ns_.lba_shift, ns_.zones.zone_blocks,
                                 ns_.blocks);
      size_ = nvme::DeviceBytes(zones_);
    }
  }

  DeviceGeometry Geometry() const override {
    DeviceGeometry g;
    g.size_bytes = size_;
    g.logical_bs_shift = ns_.lba_shift;
    uint8_t phys = ns_.lba_shift;
    while ((1u << (phys + 1)) <= ns_.physical_block && phys < 16) ++phys;
    g.physical_bs_shift = phys;
    g.io_min_shift = ns_.lba_shift;
    g.io_opt_shift = phys;
    g.read_only = ns_.read_only;
    // A read-only device writes nothing: no cache to flush, nothing to
    // discard or zero.
    g.volatile_cache = ns_.volatile_cache && !ns_.read_only;
    g.fua = g.volatile_cache;
    g.discard = ns_.deallocate && !ns_.read_only;
    g.write_zeroes = ns_.write_zeroes && !ns_.read_only;
    g.discard_granularity = 1u << ns_.lba_shift;
    g.max_io_bytes = ns_.max_io_bytes;
    // One command's NLB is 16 bits; the kernel's NVMe driver may know a
    // tighter limit (DMRSL, transport), read from its queue in sysfs.
    uint64_t wz = uint64_t{nvme::kMaxBlocksPerCmd} << ns_.lba_shift;
    if (ns_.max_write_zeroes_bytes != 0 && ns_.max_write_zeroes_bytes < wz)
      wz = ns_.max_write_zeroes_bytes;
    g.max_write_zeroes_sectors = static_cast<uint32_t>(wz >> 9);
    g.max_discard_sectors = static_cast<uint32_t>(
        std::min<uint64_t>(ns_.max_discard_bytes >> 9, UINT32_MAX));
    // Zero copy sends the request's own pages to the controller: shape
    // requests the way the kernel's NVMe queue wants them (PRP lists need
    // the 4 KiB virt boundary), or the kernel would bounce them.
    g.virt_boundary_mask = ns_.virt_boundary_mask;
    g.dma_alignment = ns_.dma_alignment;
    g.max_segments = static_cast<uint16_t>(
        std::min<uint32_t>(ns_.max_segments, UINT16_MAX));
    g.max_segment_size = ns_.max_segment_size;
    g.integrity = nvme::ProfileFor(ns_.pi);
    if (zones_.zones != 0) {
      // Discard and write zeroes are left out: neither moves a zone's
      // write pointer the way the block layer's zone accounting expects.
      g.discard = g.write_zeroes = false;
      auto& z = g.zoned;
      z.zone_sectors = static_cast<uint32_t>(zones_.zone_sectors);
      const uint64_t real = nvme::RealZoneSectors(zones_);
      const uint64_t cap = ns_.zones.capacity_blocks << (ns_.lba_shift - 9);
      z.capacity_sectors =
          ns_.zones.capacity_blocks == 0 ? 0
                                         : static_cast<uint32_t>(std::min(cap, real));
      z.max_open = ns_.zones.max_open;
      z.max_active = ns_.zones.max_active;
      z.max_append_sectors = ns_.zones.append_bytes >> 9;
    }
    return g;
  }
  DataAccess data_access() const override { return DataAccess::kBuffer; }
  Result<void> CheckResize(uint64_t bytes) const override {
    if (zones_.zones != 0)
      return Invalid(ns_.char_path + " is zoned: its size cannot change");
    const uint64_t capacity = ns_.blocks << ns_.lba_shift;
    if (bytes % (1u << ns_.lba_shift) != 0)
      return Invalid("the size must be a multiple of the namespace's " +
                     std::to_string(1u << ns_.lba_shift) + "-byte blocks");
    if (bytes > capacity)
      return Invalid(ns_.char_path + " holds " + std::to_string(capacity) +
                     " bytes");
    return {};
  }
  RingNeeds ring_needs() const override {
    return {.big_sqe = true, .big_cqe = true, .sqes_per_io = 1,
            .polled = poll_};
  }
  Result<std::unique_ptr<TargetQueue>> OpenQueue(QueueContext& q) override {
    auto slot = q.AddFile(fd_.get());
    if (!slot) return slot.error();
    nvme::ZonedScratch scratch;
    if (zones_.zones != 0) {
      auto s = nvme::OpenZonedScratch(q, q.depth(), zones_.zones,
                                      ns_.max_io_bytes);
      if (!s) return s.error();
      scratch = std::move(*s);
    }
    return std::unique_ptr<TargetQueue>(
        new NvmeQueue(ns_, zones_, *slot, q.depth(), std::move(scratch)));
  }

 private:
  NvmeNamespace ns_;
  Fd fd_;
  uint64_t size_;
  nvme::ZoneMap zones_;  // zones 0: not zoned
  bool poll_;
};

// --poll needs poll queues, and the per-tag buffers, which both rings of a
// queue register (zero copy registers a request's pages in the ublk ring's
// table only; user copy links its copy to the command on one ring).
Result<void> CheckPoll(const NvmeNamespace& ns, const DeviceSpec& spec) {
  if (!ns.poll_queues)
    return Invalid("--poll: " + ns.block_name +
                   " has no poll queues (boot with nvme.poll_queues=N)");
  if (spec.zero_copy == ZeroCopy::kAuto ||
      spec.zero_copy == ZeroCopy::kExplicit)
    return Invalid(
        "--poll cannot go with zero copy (-z): the request's pages are "
        "registered in the ublk ring's buffer table, which the polled ring "
        "cannot use");
  if (spec.user_copy || spec.need_get_data || spec.shmem_zc)
    return Invalid(
        "--poll works only in plain copy mode, not with --usercopy, -g or "
        "--shmem_zc");
  if (ns.zones.zone_blocks != 0)
    return Invalid("--poll: " + ns.char_path +
                   " is zoned, which is served by zero copy or user copy, "
                   "and --poll works only in copy mode");
  if (ns.pi.ms != 0)
    return Invalid("--poll: " + ns.char_path +
                   " has metadata, which moves by user copy, and --poll works "
                   "only in copy mode");
  return {};
}

}  // namespace

Result<std::unique_ptr<Target>> CreateNvmeTarget(const DeviceSpec& spec) {
  if (spec.file.empty())
    return Invalid("the nvme target needs -f /dev/ngXnY (or /dev/nvmeXnY)");
  Fd fd;
  auto ns = OpenNvmeNamespace(spec.file, spec.read_only, &fd);
  if (!ns) return ns.error();
  if (ns->zones.zone_blocks != 0 && spec.size)
    return Invalid("--size does not apply to " + ns->char_path +
                   ", a zoned namespace: the device has all its zones");
  if (ns->zones.zone_blocks != 0 && ns->blocks / ns->zones.zone_blocks == 0)
    return Invalid(ns->char_path + " holds no whole zone");
  const uint64_t capacity = ns->blocks << ns->lba_shift;
  uint64_t size = spec.size.value_or(capacity);
  if (size > capacity)
    return Invalid("--size " + std::to_string(size) + " is larger than " +
                   ns->char_path + " (" + std::to_string(capacity) + " bytes)");
  if (size % (1u << ns->lba_shift) != 0)
    return Invalid("--size must be a multiple of the namespace's " +
                   std::to_string(1u << ns->lba_shift) + "-byte blocks");
  const bool poll = FlagOption(kNvmeOptions, spec.options, "poll");
  if (poll) UBLK_RETURN_IF_ERROR(CheckPoll(*ns, spec));
  log::Info(
      "nvme: {} nsid {} lba {} blocks {} max io {} vwc {} wz {} dsm {} "
      "integrity {} zone blocks {}{}{}",
      ns->char_path, ns->nsid, 1u << ns->lba_shift, ns->blocks,
      ns->max_io_bytes, ns->volatile_cache, ns->write_zeroes, ns->deallocate,
      IntegrityFormatName(nvme::ProfileFor(ns->pi)), ns->zones.zone_blocks,
      ns->read_only ? " read-only" : "", poll ? " polled" : "");
  return std::unique_ptr<Target>(
      new NvmeTarget(std::move(*ns), std::move(fd), size, poll));
}

}  // namespace ublk

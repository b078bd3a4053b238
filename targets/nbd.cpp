#include "nbd.h"

#include <bit>
#include <string>
#include <vector>

#include "nbd_connect.h"
#include "nbd_queue.h"
#include "nbd_reconnect.h"
#include "nbd_uri.h"
#include "option_table.h"
#include "ublk/log.h"

namespace ublk {
namespace {

using nbd::ExportInfo;

uint8_t Shift(uint32_t power_of_two) {
  return static_cast<uint8_t>(std::countr_zero(power_of_two));
}

// The device as the export describes it; Invalid when the kernel cannot
// present it.
Result<DeviceGeometry> GeometryOf(const ExportInfo& info, bool read_only) {
  DeviceGeometry g;
  const uint32_t lbs = std::max<uint32_t>(info.min_block, 512);
  if (lbs > 4096)
    return Invalid("the NBD export's minimum block size of " +
                   std::to_string(lbs) + " bytes is more than 4096");
  const uint32_t pbs =
      std::clamp<uint32_t>(info.preferred_block, lbs, 1u << 20);
  g.logical_bs_shift = g.io_min_shift = Shift(lbs);
  g.physical_bs_shift = g.io_opt_shift = Shift(pbs);
  g.size_bytes = info.size / lbs * lbs;
  if (g.size_bytes == 0)
    return Invalid("the NBD export holds " + std::to_string(info.size) +
                   " bytes, less than one " + std::to_string(lbs) +
                   "-byte block");
  g.read_only = read_only || (info.flags & nbd::kReadOnly);
  g.rotational = info.flags & nbd::kRotational;
  g.volatile_cache = info.flags & nbd::kSendFlush;
  g.fua = g.volatile_cache && (info.flags & nbd::kSendFua);
  g.discard = !g.read_only && (info.flags & nbd::kSendTrim);
  g.write_zeroes = !g.read_only && (info.flags & nbd::kSendWriteZeroes);
  g.discard_granularity = pbs;
  // The server's largest payload, in whole pages (the per-tag buffers').
  if (info.has_block_size && info.max_block < kDefaultMaxIoBytes)
    g.max_io_bytes = std::max<uint32_t>(info.max_block / 4096 * 4096, 4096);
  return g;
}

class NbdTarget final : public Target {
 public:
  NbdTarget(std::vector<std::unique_ptr<nbd::Link>> links, DeviceGeometry g,
            std::vector<std::string> notes, bool zero_copy)
      : links_(std::move(links)),
        geometry_(g),
        notes_(std::move(notes)),
        zero_copy_(zero_copy) {}

  DeviceGeometry Geometry() const override { return geometry_; }
  DataAccess data_access() const override {
    return DataAccess::kMemoryOrAutoBuf;
  }
  // Each queue's send and receive are two queue SQEs at most.
  RingNeeds ring_needs() const override { return {.sqes_per_io = 1}; }
  std::vector<std::string> notes() const override { return notes_; }

  // The worst of the queues' connections; connected ones say whether they
  // all use structured replies.
  std::string connection_state() const override {
    uint8_t worst = 0;
    bool structured = true;
    for (const auto& l : links_) {
      worst = std::max(worst, l->state.load(std::memory_order_relaxed));
      structured = structured && l->structured.load(std::memory_order_relaxed);
    }
    switch (static_cast<nbd::LinkState>(worst)) {
      case nbd::LinkState::kConnected:
        return structured ? "connected, structured replies" : "connected";
      case nbd::LinkState::kReconnecting:
        return "reconnecting";
      case nbd::LinkState::kFailed:
        break;
    }
    return "down (I/O fails)";
  }

  void Stopping() override {
    for (auto& l : links_)
      if (l->reconnector) l->reconnector->GiveUp();
  }

  Result<std::unique_ptr<TargetQueue>> OpenQueue(QueueContext& q) override {
    if (q.id() >= links_.size())
      return Invalid("nbd: no connection for queue " + std::to_string(q.id()));
    nbd::Link& link = *links_[q.id()];
    auto slot = q.AddFile(link.conn.socket.get());
    if (!slot) return slot.error();
    return nbd::MakeNbdQueue(link, *slot, q.id(), q.depth(), zero_copy_);
  }

 private:
  std::vector<std::unique_ptr<nbd::Link>> links_;  // one per queue
  DeviceGeometry geometry_;
  std::vector<std::string> notes_;
  const bool zero_copy_;
};

}  // namespace

Result<std::unique_ptr<Target>> CreateNbdTarget(const DeviceSpec& spec) {
  auto address = nbd::ParseUri(spec.file);
  if (!address) return address.error();
  // Zero copy is only ever asked for (ChooseFlags); it takes simple
  // replies (nbd_queue.h).
  const bool zero_copy = spec.zero_copy == ZeroCopy::kAuto;
  std::vector<std::unique_ptr<nbd::Link>> links;
  for (uint16_t i = 0; i < spec.queues; ++i) {
    auto conn = nbd::Connect(*address, nbd::kConnectTimeout, !zero_copy);
    if (!conn) return conn.error();
    const ExportInfo& info = conn->info;
    if (i == 0 && spec.queues > 1 && !(info.flags & nbd::kCanMultiConn))
      return Invalid("-q " + std::to_string(spec.queues) + ": the NBD server " +
                     nbd::Describe(*address) +
                     " does not allow several connections to this export "
                     "(no NBD_FLAG_CAN_MULTI_CONN); use -q 1");
    if (i > 0 && (info.size != links[0]->conn.info.size ||
                  info.flags != links[0]->conn.info.flags))
      return Invalid("the NBD server " + nbd::Describe(*address) +
                     " described the export differently on connection " +
                     std::to_string(i + 1));
    auto link = std::make_unique<nbd::Link>();
    link->conn = std::move(*conn);
    links.push_back(std::move(link));
  }
  const ExportInfo& info = links[0]->conn.info;
  const auto timeout = std::chrono::seconds(
      NumberOption(kNbdOptions, spec.options, "reconnect-timeout"));
  if (timeout.count() != 0) {
    for (uint16_t i = 0; i < links.size(); ++i) {
      auto r = nbd::Reconnector::Start(*address, info, timeout, i, !zero_copy);
      if (!r) return r.error();
      links[i]->reconnector = std::move(*r);
    }
  }
  auto geometry = GeometryOf(info, spec.read_only);
  if (!geometry) return geometry.error();
  std::vector<std::string> notes;
  if ((info.flags & nbd::kReadOnly) && !spec.read_only)
    notes.push_back(spec.file +
                    ": read-only device (the NBD export is "
                    "read-only)");
  if (info.size != geometry->size_bytes)
    notes.push_back(spec.file + ": the export's last " +
                    std::to_string(info.size - geometry->size_bytes) +
                    " bytes are not a whole block and are left out");
  log::Info(
      "{}: export of {} bytes, transmission flags {:#x}, {} "
      "connection(s), {} replies",
      nbd::Describe(*address), info.size, info.flags, links.size(),
      info.structured_replies ? "structured" : "simple");
  return std::unique_ptr<Target>(
      new NbdTarget(std::move(links), *geometry, std::move(notes), zero_copy));
}

}  // namespace ublk

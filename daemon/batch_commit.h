// Batch commands (UBLK_F_BATCH_IO): how one queue's elements are encoded and
// where its finished tags wait for their COMMIT_IO_CMDS.
//
// BatchLayout says which optional fields every element of a device carries
// (a buffer address in copy mode, a zone-append sector on a zoned device)
// and so how long each is; EncodeBatchElem writes one element in that
// layout, BatchHeader the command header that goes in sqe->cmd. Pure
// functions, unit-tested field by field.
//
// CommitBatches holds the element arrays, preallocated for the whole depth
// in a few slots: the open slot collects the results a pass produces (Add),
// Take hands it to one COMMIT_IO_CMDS and opens a free slot, and Done frees
// a slot once the kernel answered its command (the array must stay untouched
// until then). A tag waits in the open slot at most once; since the kernel
// delivers a tag again only after its commit, the open slot never holds more
// than `depth` elements. When no other slot is free, Take keeps collecting
// into the open one and the commit goes out with a later pass.
//
// Reset allocates (queue setup only); every other call is noexcept and
// allocation-free. Used only by the queue thread.
#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

#include "ublk/abi.h"

namespace ublk {

struct BatchLayout {
  uint16_t flags = 0;  // abi::kBatchF*
  uint8_t elem_bytes = sizeof(abi::BatchElemHeader);

  // Copy mode (the kernel copies into the server's buffer) carries the
  // buffer address; a zoned device the zone-append sector; automatic
  // buffer registration asks for FALLBACK (deliver with NEED_REG_BUF
  // instead of failing the request), which excludes an address.
  static constexpr BatchLayout For(bool buf_addr, bool zone_lba,
                                   bool auto_buf_reg) {
    BatchLayout l;
    if (buf_addr) {
      l.flags |= abi::kBatchFHasBufAddr;
      l.elem_bytes += 8;
    }
    if (zone_lba) {
      l.flags |= abi::kBatchFHasZoneLba;
      l.elem_bytes += 8;
    }
    if (auto_buf_reg && !buf_addr) l.flags |= abi::kBatchFAutoBufRegFallback;
    return l;
  }
};

struct BatchElem {
  uint16_t tag = 0;
  uint16_t buf_index = 0;  // AUTO_BUF_REG: the slot for the next request
  int32_t result = 0;
  uint64_t buf_addr = 0;   // layout has kBatchFHasBufAddr
  uint64_t zone_lba = 0;   // layout has kBatchFHasZoneLba: a ZONE_APPEND's
                           // written sector
};

// Writes E at DST, layout.elem_bytes bytes.
inline void EncodeBatchElem(const BatchLayout& layout, const BatchElem& e,
                            uint8_t* dst) noexcept {
  const abi::BatchElemHeader h{e.tag, e.buf_index, e.result};
  std::memcpy(dst, &h, sizeof(h));
  size_t off = sizeof(h);
  if (layout.flags & abi::kBatchFHasBufAddr) {
    std::memcpy(dst + off, &e.buf_addr, 8);
    off += 8;
  }
  if (layout.flags & abi::kBatchFHasZoneLba) std::memcpy(dst + off, &e.zone_lba, 8);
}

constexpr abi::BatchIo BatchHeader(uint16_t q_id, const BatchLayout& layout,
                                   uint16_t nr_elem) {
  return abi::BatchIo{q_id, layout.flags, nr_elem, layout.elem_bytes, 0, 0};
}

// The FETCH_IO_CMDS header: tags of two bytes, no flags.
constexpr abi::BatchIo FetchHeader(uint16_t q_id, uint16_t nr_elem) {
  return abi::BatchIo{q_id, 0, nr_elem, 2, 0, 0};
}

class CommitBatches {
 public:
  static constexpr unsigned kSlots = 3;

  struct Batch {
    uint8_t slot = 0;
    uint16_t count = 0;  // 0: nothing handed over
    const uint8_t* data = nullptr;
    uint32_t bytes = 0;
  };

  // Room for `depth` elements in each slot, all free, slot 0 open.
  // Allocates.
  void Reset(uint16_t depth, BatchLayout layout) {
    depth_ = depth;
    layout_ = layout;
    mem_.assign(size_t{kSlots} * depth * layout.elem_bytes, 0);
    waiting_.assign(depth, false);
    for (unsigned s = 0; s < kSlots; ++s) count_[s] = 0, in_flight_[s] = false;
    open_ = 0;
  }

  // Queues E in the open slot. False, and nothing queued, for a tag out of
  // range or already waiting there.
  [[nodiscard]] bool Add(const BatchElem& e) noexcept {
    if (e.tag >= depth_ || waiting_[e.tag] || count_[open_] >= depth_)
      return false;
    waiting_[e.tag] = true;
    EncodeBatchElem(layout_, e, Elem(open_, count_[open_]++));
    return true;
  }

  // The open slot's elements for one COMMIT_IO_CMDS, the slot then in
  // flight until Done; count 0 when it is empty or no other slot is free.
  Batch Take() noexcept {
    if (count_[open_] == 0) return {};
    unsigned next = kSlots;
    for (unsigned s = 0; s < kSlots; ++s)
      if (s != open_ && !in_flight_[s]) next = s;
    if (next == kSlots) return {};
    Batch b{static_cast<uint8_t>(open_), count_[open_], Elem(open_, 0),
            static_cast<uint32_t>(count_[open_]) * layout_.elem_bytes};
    for (uint16_t i = 0; i < b.count; ++i) waiting_[TagAt(open_, i)] = false;
    in_flight_[open_] = true;
    open_ = next;
    count_[open_] = 0;
    return b;
  }

  // The kernel answered the command of SLOT: free again. False for a slot
  // not in flight.
  [[nodiscard]] bool Done(uint8_t slot) noexcept {
    if (slot >= kSlots || !in_flight_[slot]) return false;
    in_flight_[slot] = false;
    return true;
  }

  // Element I of SLOT, which the kernel did not look at (it stopped at an
  // element before it), queued again in the open slot as it was. False,
  // and nothing queued, as for Add.
  [[nodiscard]] bool Requeue(unsigned slot, unsigned i) noexcept {
    if (slot >= kSlots || slot == open_ || i >= count_[slot]) return false;
    const uint16_t tag = TagAt(slot, i);
    if (tag >= depth_ || waiting_[tag] || count_[open_] >= depth_)
      return false;
    waiting_[tag] = true;
    std::memcpy(Elem(open_, count_[open_]++), Elem(slot, i),
                layout_.elem_bytes);
    return true;
  }
  // The tag of element I of SLOT (for the ones a failed commit left).
  uint16_t TagAt(unsigned slot, unsigned i) const noexcept {
    uint16_t tag;
    std::memcpy(&tag, mem_.data() + Offset(slot, i), sizeof(tag));
    return tag;
  }
  uint16_t count(unsigned slot) const noexcept { return count_[slot]; }
  uint16_t pending() const noexcept { return count_[open_]; }
  bool waiting(uint16_t tag) const noexcept { return waiting_[tag]; }
  unsigned in_flight() const noexcept {
    unsigned n = 0;
    for (bool f : in_flight_) n += f;
    return n;
  }
  const BatchLayout& layout() const noexcept { return layout_; }

 private:
  size_t Offset(unsigned slot, unsigned i) const noexcept {
    return (size_t{slot} * depth_ + i) * layout_.elem_bytes;
  }
  uint8_t* Elem(unsigned slot, unsigned i) noexcept {
    return mem_.data() + Offset(slot, i);
  }

  uint16_t depth_ = 0;
  BatchLayout layout_;
  std::vector<uint8_t> mem_;
  std::vector<bool> waiting_;
  uint16_t count_[kSlots] = {};
  bool in_flight_[kSlots] = {};
  unsigned open_ = 0;
};

}  // namespace ublk

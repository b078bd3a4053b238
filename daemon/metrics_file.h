// The metrics file /run/ublk/<id>.metrics (layout: metrics_layout.h).
//
// The server creates it before its queues start and keeps it mapped; it is
// written whole under a temporary name and renamed into place, so a reader
// sees either no file or a complete header. A new server for the same
// device (recover, restart) makes a fresh one: counters start again from
// zero (a Prometheus counter reset), and a reader holding the old mapping
// keeps reading the old, now still, counters until it opens the file again.
// RemoveState removes it with the state file.
//
// Readers open it with MetricsView::Open, which trusts only a regular file
// of the caller's own, not writable by others, whose magic, layout version
// and sizes match this build; anything else is one line naming the file.
#pragma once

#include <sys/types.h>
#include <unistd.h>

#include <cstdint>
#include <string>

#include "metrics_layout.h"
#include "ublk/mmap.h"
#include "ublk/result.h"

namespace ublk {

std::string MetricsPath(const std::string& dir, uint32_t dev_id);

// The server's side. Move-only; unmapped (not removed) when destroyed.
class MetricsFile {
 public:
  static Result<MetricsFile> Create(const std::string& dir, uint32_t dev_id,
                                    uint16_t nr_queues, const std::string& name);
  // Queue q's block, for its thread alone to write; lives as long as this.
  metrics::QueueBlock* queue(uint16_t q) const;
  const metrics::FileHeader& header() const {
    return *static_cast<const metrics::FileHeader*>(map_.data());
  }

 private:
  explicit MetricsFile(Mmap map) : map_(std::move(map)) {}
  Mmap map_;
};

// A reader's read-only mapping.
class MetricsView {
 public:
  // ENOENT (check error().code()) when the device has no metrics file.
  // The file must be owned by `owner` (the device's owner, DeviceOwner).
  static Result<MetricsView> Open(const std::string& dir, uint32_t dev_id,
                                  uid_t owner = ::geteuid());
  const metrics::FileHeader& header() const {
    return *static_cast<const metrics::FileHeader*>(map_.data());
  }
  const metrics::QueueBlock& queue(uint16_t q) const;
  // Block 0; the others follow it.
  const metrics::QueueBlock* blocks() const { return &queue(0); }

 private:
  explicit MetricsView(Mmap map) : map_(std::move(map)) {}
  Mmap map_;
};

// CLOCK_MONOTONIC in nanoseconds (vDSO: no system call).
uint64_t MonotonicNs() noexcept;

}  // namespace ublk

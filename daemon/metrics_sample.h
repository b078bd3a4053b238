// Samples of a device's metrics file (metrics_layout.h) and what is
// computed from them: rates, percentiles, the Prometheus text. Pure
// functions on plain data, tested without a server; `ublk stats` prints
// them, and a server with --metrics-file writes the Prometheus text.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "metrics_layout.h"

namespace ublk {

struct OpSample {
  uint64_t requests = 0, bytes = 0, errors = 0, latency_ns = 0;
  std::array<uint64_t, metrics::kBuckets> buckets{};
};
struct QueueSample {
  uint64_t started = 0, finished = 0;
  std::array<OpSample, metrics::kOpCount> ops{};
  std::array<uint64_t, metrics::kErrnoSlots> errnos{};
  uint64_t in_flight() const { return started - finished; }
};
struct DeviceSample {
  uint32_t dev_id = 0;
  std::string name;
  int pid = 0;
  uint64_t taken_ns = 0;    // CLOCK_MONOTONIC when read
  uint64_t started_ns = 0;  // ... when the server created the file
  std::vector<QueueSample> queues;
};

// Every counter of a metrics file's header and its queue blocks (which
// follow one another), each loaded once (relaxed).
DeviceSample TakeSample(const metrics::FileHeader& header,
                        const metrics::QueueBlock* blocks);
// later - earlier, counter by counter (in flight: later's); a counter that
// went down (a new server) counts from zero.
DeviceSample Delta(const DeviceSample& later, const DeviceSample& earlier);
// The queues added up.
QueueSample Total(const DeviceSample& sample);

// The latency below which a fraction q (0 < q <= 1) of the histogram's
// requests finished, in microseconds, interpolated linearly inside the
// bucket that holds it; 0 for an empty histogram. In the last bucket,
// which has no upper bound, its lower bound.
double PercentileUs(const std::array<uint64_t, metrics::kBuckets>& buckets,
                    double q);

// The errno's symbolic name ("ENOSPC"), or "E<n>"; slot 0: "other".
std::string ErrnoName(unsigned slot);

// The Prometheus text exposition format (version 0.0.4) of the samples:
// ublk_requests_total, ublk_bytes_total, ublk_request_errors_total (by
// device, name, queue, op), ublk_errors_total (by errno),
// ublk_in_flight_requests (by queue) and the histogram
// ublk_request_duration_seconds (by op). An op appears once it has
// requests.
std::string PrometheusText(const std::vector<DeviceSample>& devices);

}  // namespace ublk

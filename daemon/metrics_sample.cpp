#include <cstring>

#include "metrics_sample.h"

#include "metrics_file.h"

namespace ublk {
namespace {

uint64_t Load(const metrics::Counter& c) {
  return c.load(std::memory_order_relaxed);
}
uint64_t Since(uint64_t later, uint64_t earlier) {
  return later >= earlier ? later - earlier : later;
}

}  // namespace

DeviceSample TakeSample(const metrics::FileHeader& h,
                        const metrics::QueueBlock* blocks) {
  DeviceSample s;
  s.dev_id = h.dev_id;
  s.name.assign(h.name, strnlen(h.name, sizeof(h.name)));
  s.pid = h.pid;
  s.started_ns = h.started_monotonic_ns;
  s.queues.resize(h.nr_queues);
  for (uint16_t q = 0; q < h.nr_queues; ++q) {
    const metrics::QueueBlock& b = blocks[q];
    QueueSample& out = s.queues[q];
    // finished before started: in flight is never negative.
    out.finished = Load(b.finished);
    out.started = Load(b.started);
    for (unsigned o = 0; o < metrics::kOpCount; ++o) {
      out.ops[o].requests = Load(b.ops[o].requests);
      out.ops[o].bytes = Load(b.ops[o].bytes);
      out.ops[o].errors = Load(b.ops[o].errors);
      out.ops[o].latency_ns = Load(b.ops[o].latency_ns);
      for (unsigned k = 0; k < metrics::kBuckets; ++k)
        out.ops[o].buckets[k] = Load(b.ops[o].buckets[k]);
    }
    for (unsigned e = 0; e < metrics::kErrnoSlots; ++e)
      out.errnos[e] = Load(b.errnos[e]);
  }
  s.taken_ns = MonotonicNs();
  return s;
}

DeviceSample Delta(const DeviceSample& later, const DeviceSample& earlier) {
  DeviceSample d = later;
  // Another server (another pid, or another queue count) started from 0.
  if (later.pid != earlier.pid || later.queues.size() != earlier.queues.size())
    return d;
  for (size_t q = 0; q < d.queues.size(); ++q) {
    QueueSample& out = d.queues[q];
    const QueueSample& e = earlier.queues[q];
    for (unsigned o = 0; o < metrics::kOpCount; ++o) {
      OpSample& op = out.ops[o];
      op.requests = Since(op.requests, e.ops[o].requests);
      op.bytes = Since(op.bytes, e.ops[o].bytes);
      op.errors = Since(op.errors, e.ops[o].errors);
      op.latency_ns = Since(op.latency_ns, e.ops[o].latency_ns);
      for (unsigned k = 0; k < metrics::kBuckets; ++k)
        op.buckets[k] = Since(op.buckets[k], e.ops[o].buckets[k]);
    }
    for (unsigned k = 0; k < metrics::kErrnoSlots; ++k)
      out.errnos[k] = Since(out.errnos[k], e.errnos[k]);
  }
  d.started_ns = earlier.taken_ns;
  return d;
}

QueueSample Total(const DeviceSample& sample) {
  QueueSample t;
  for (const QueueSample& q : sample.queues) {
    t.started += q.started;
    t.finished += q.finished;
    for (unsigned o = 0; o < metrics::kOpCount; ++o) {
      t.ops[o].requests += q.ops[o].requests;
      t.ops[o].bytes += q.ops[o].bytes;
      t.ops[o].errors += q.ops[o].errors;
      t.ops[o].latency_ns += q.ops[o].latency_ns;
      for (unsigned k = 0; k < metrics::kBuckets; ++k)
        t.ops[o].buckets[k] += q.ops[o].buckets[k];
    }
    for (unsigned e = 0; e < metrics::kErrnoSlots; ++e)
      t.errnos[e] += q.errnos[e];
  }
  return t;
}

double PercentileUs(const std::array<uint64_t, metrics::kBuckets>& buckets,
                    double q) {
  uint64_t count = 0;
  for (uint64_t n : buckets) count += n;
  if (count == 0) return 0;
  // The rank of the request at fraction q, 1-based.
  const double rank = q * static_cast<double>(count);
  uint64_t below = 0;
  for (unsigned b = 0; b < metrics::kBuckets; ++b) {
    if (buckets[b] == 0 || static_cast<double>(below + buckets[b]) < rank) {
      below += buckets[b];
      continue;
    }
    const double lower = b == 0 ? 0.0 : static_cast<double>(uint64_t{1} << (b - 1));
    if (b == metrics::kBuckets - 1) return lower;
    const double upper = static_cast<double>(uint64_t{1} << b);
    const double inside = (rank - static_cast<double>(below)) /
                          static_cast<double>(buckets[b]);
    return lower + (upper - lower) * inside;
  }
  return static_cast<double>(uint64_t{1} << (metrics::kBuckets - 2));
}

std::string ErrnoName(unsigned slot) {
  if (slot == 0) return "other";
  if (const char* n = strerrorname_np(static_cast<int>(slot))) return n;
  return "E" + std::to_string(slot);
}

}  // namespace ublk

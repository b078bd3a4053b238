// The live metrics of one device: the layout of /run/ublk/<id>.metrics.
//
// The server creates the file (metrics_file.h) and maps it shared; each
// queue thread owns one QueueBlock and is its only writer. Readers (`ublk
// stats`) map it read-only while the server runs and never stop it.
// Every field is a 64-bit counter that only grows, written by its one
// writer with relaxed atomic stores (a plain load and store on x86 and
// arm64: no locked instruction, nothing shared between queues, each block
// on cache lines of its own). A reader loads each counter with a relaxed
// atomic load: it may see one counter a request ahead of another (a request
// counted, its latency not yet), never a torn value. In flight is
// `started - finished`, read in that order reversed (finished first) so it
// is never negative.
//
// Latency is measured from the pass that reaped a request's fetch to the
// end of the pass that queued its commit (CLOCK_MONOTONIC through the vDSO,
// read at most twice a pass: at the pass's first new request and after
// its completions are handled), so its resolution is one pass of the queue
// loop, and a request the target completes at once (null) takes under a
// microsecond.
//
// The histogram has log2 buckets: bucket 0 counts latencies up to 1 us,
// bucket b (1..kBuckets-2) those in (2^(b-1), 2^b] us, the last one the
// rest (over 2^(kBuckets-2) us, about 16.8 s).
#pragma once

#include <atomic>
#include <bit>
#include <cstdint>
#include <string_view>

#include "ublk/abi.h"

namespace ublk::metrics {

inline constexpr char kMagic[8] = {'U', 'B', 'L', 'K', 'M', 'E', 'T', 'R'};
// Bumped whenever anything below changes; a reader refuses another.
inline constexpr uint32_t kLayoutVersion = 1;

// The operations counted apart. Zone open, close, finish, reset and reset
// all are one: zone management.
enum Op : uint8_t {
  kRead,
  kWrite,
  kFlush,
  kDiscard,
  kWriteZeroes,
  kZoneAppend,
  kZoneMgmt,
  kReportZones,
  kOther,
  kOpCount
};
inline constexpr std::string_view kOpNames[kOpCount] = {
    "read",        "write",     "flush",        "discard", "write_zeroes",
    "zone_append", "zone_mgmt", "report_zones", "other"};

constexpr Op OpOf(uint8_t ublk_op) {
  switch (ublk_op) {
    case abi::kOpRead: return kRead;
    case abi::kOpWrite: return kWrite;
    case abi::kOpFlush: return kFlush;
    case abi::kOpDiscard: return kDiscard;
    case abi::kOpWriteZeroes: return kWriteZeroes;
    case abi::kOpZoneAppend: return kZoneAppend;
    case abi::kOpZoneOpen:
    case abi::kOpZoneClose:
    case abi::kOpZoneFinish:
    case abi::kOpZoneReset:
    case abi::kOpZoneResetAll: return kZoneMgmt;
    case abi::kOpReportZones: return kReportZones;
    default: return kOther;
  }
}

inline constexpr unsigned kBuckets = 26;
// Bucket b's upper bound in nanoseconds (b < kBuckets - 1; the last has
// none).
constexpr uint64_t BucketUpperNs(unsigned b) { return uint64_t{1000} << b; }
constexpr unsigned BucketOf(uint64_t ns) {
  // Rounded up (bounds are inclusive), without overflow.
  const uint64_t us = ns / 1000 + (ns % 1000 != 0);
  const unsigned b = us <= 1 ? 0u : static_cast<unsigned>(std::bit_width(us - 1));
  return b < kBuckets - 1 ? b : kBuckets - 1;
}

// errnos[e] counts failures with errno e (1..kErrnoSlots-1); errnos[0]
// those with a larger one.
inline constexpr unsigned kErrnoSlots = 134;  // EHWPOISON is 133

using Counter = std::atomic<uint64_t>;
static_assert(Counter::is_always_lock_free);

struct OpCounters {
  Counter requests;  // finished (committed), failed ones included
  Counter bytes;     // of the requests that succeeded
  Counter errors;
  Counter latency_ns;  // sum over the requests
  Counter buckets[kBuckets];
};

struct alignas(64) QueueBlock {
  Counter started;   // delivered to the server
  Counter finished;  // committed back
  OpCounters ops[kOpCount];
  Counter errnos[kErrnoSlots];
};

struct alignas(64) FileHeader {
  char magic[8];
  uint32_t version;
  uint32_t header_bytes;       // sizeof(FileHeader): where block 0 starts
  uint32_t queue_block_bytes;  // sizeof(QueueBlock)
  uint32_t dev_id;
  uint16_t nr_queues;
  uint16_t reserved;
  int32_t pid;                   // the server that writes it
  uint64_t started_monotonic_ns;  // CLOCK_MONOTONIC when it was created
  char name[64];                  // the device's --name, NUL-terminated
};

// The single writer's add: a load and a store, never a read-modify-write.
inline void Add(Counter& c, uint64_t n) {
  c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

}  // namespace ublk::metrics

// DeviceSpec: everything that defines one ublk device, as the user asked.
//
// ctl/ builds it from the command line, the server receives it, and the state
// file /run/ublk/<id>.json records it so `list` and `recover` can read it
// back. Plain data; JSON conversion lives in spec_json.h.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ublk/target_options.h"

namespace ublk {

inline constexpr uint16_t kDefaultQueues = 1;
inline constexpr uint16_t kDefaultDepth = 128;
inline constexpr uint64_t kDefaultNullSize = 250ULL << 30;  // like ublksrv
inline constexpr uint32_t kDefaultMaxIoBytes = 512u << 10;

// Whether request data may bypass the server's own buffers (-z).
enum class ZeroCopy : uint8_t {
  kBest,      // not asked: automatic registration where the kernel has it,
              // else copy
  kOff,       // copy through per-tag buffers
  kAuto,      // automatic buffer registration (UBLK_F_AUTO_BUF_REG, 6.16),
              // registering by hand when the kernel falls back
  kExplicit,  // register -> backend I/O -> unregister for every request
};

// Whether the queues talk to the kernel in batch commands (--batch,
// UBLK_F_BATCH_IO, 7.0): PREP_IO_CMDS / multishot FETCH_IO_CMDS /
// COMMIT_IO_CMDS instead of one FETCH_REQ and COMMIT_AND_FETCH_REQ per tag.
enum class Batch : uint8_t {
  kBest,  // not asked: the per-tag commands, batch not having measured
          // ahead of them (BatchFlags says where)
  kOn,    // --batch: refused where the kernel lacks it
  kOff,   // --batch=off: the per-tag commands
};

// What happens to the device when its server dies (-r, --recovery-mode).
enum class Recovery : uint8_t {
  kOff,      // the device is deleted with its server
  kReissue,  // USER_RECOVERY | USER_RECOVERY_REISSUE: the device waits
             // (QUIESCED) for `ublk recover`; I/O queues meanwhile, and
             // what the dead server had in flight is sent again
  kFailIo,   // USER_RECOVERY | USER_RECOVERY_FAIL_IO (6.13): the device
             // waits (FAIL_IO); I/O fails until it is recovered
  kFailInflight,  // USER_RECOVERY alone (6.0; the reference server's -r 1):
                  // what the dead server had in flight fails with EIO, new
                  // I/O waits (QUIESCED) for `ublk recover`
};

// Options meant for tests (`ublk help add`, "testing"): each makes a race
// certain or forces a rare path, and changes nothing else.
struct TestingOptions {
  // Seconds the server sleeps before START_DEV / before STOP_DEV, so a test
  // can kill it there (--stall-before-start, --stall-before-stop).
  uint32_t stall_before_start_s = 0;
  uint32_t stall_before_stop_s = 0;
  // Zero-copy auto only: every queue fills the automatic registration slots
  // with a page of its own, so each request takes the kernel's fallback and
  // is registered by hand (--force-auto-fallback).
  bool force_auto_fallback = false;

  friend bool operator==(const TestingOptions&,
                         const TestingOptions&) = default;
};

// Seconds a --stall-* option may ask for.
inline constexpr uint32_t kMaxStallSeconds = 3600;
// --poll-us: a spin longer than this costs more CPU than any sleep saves.
inline constexpr uint32_t kMaxPollUs = 10000;
// --threads: at most this many server threads for one device.
inline constexpr uint16_t kMaxThreads = 1024;
// --cpus: CPU numbers below this.
inline constexpr uint16_t kMaxCpu = 8192;

struct DeviceSpec {
  std::string type;            // registry name: "null", ...
  std::optional<uint32_t> id;  // unset: the kernel picks
  uint16_t queues = kDefaultQueues;
  uint16_t depth = kDefaultDepth;
  std::string name;                 // free-form label for the operator
  std::optional<uint64_t> size;     // bytes; unset: the target's default
  std::string file;                 // backing file or device, if any
  uint32_t max_io_bytes = kDefaultMaxIoBytes;
  // The device refuses writes and the backend is opened read-only (targets
  // that store data; see TargetType::takes_read_only).
  bool read_only = false;
  // The options only this spec's target takes (loop's offset, ...), as its
  // table in the registry declares them; checked by CheckSpecOptions.
  TargetOptions options;
  ZeroCopy zero_copy = ZeroCopy::kBest;
  Batch batch = Batch::kBest;
  // -u / --usercopy: the server moves request data itself, by read and
  // write on /dev/ublkcN (UBLK_F_USER_COPY), not the kernel into per-tag
  // buffers. Excludes zero copy.
  bool user_copy = false;
  // -g: a WRITE arrives without its data and the server asks the kernel to
  // copy it in (UBLK_F_NEED_GET_DATA). Copy mode only.
  bool need_get_data = false;
  // --shmem_zc [--htlb PATH]: requests whose pages lie in memory the server
  // registered (UBLK_F_SHMEM_ZC) are served from it without a copy;
  // shmem_file is the hugetlbfs file the application maps too.
  bool shmem_zc = false;
  std::string shmem_file;
  // --no-partition-scan: the kernel does not read a partition table off the
  // new disk (UBLK_F_NO_AUTO_PART_SCAN), e.g. a VM image's own.
  bool no_partition_scan = false;
  // --metrics=off: the server keeps no live counters (no metrics file,
  // nothing counted per request).
  bool metrics = true;
  // --metrics-file PATH: the server rewrites PATH (absolute) with its
  // counters in the Prometheus text format every few seconds, for
  // node_exporter's textfile collector.
  std::string metrics_textfile;
  // --poll-us N: a queue thread with nothing to do checks its ring for up
  // to N microseconds before it sleeps (0: it sleeps at once).
  uint32_t poll_us = 0;
  // --threads N: server threads, each with its own ring (0: one per
  // queue). More threads than queues split each queue's tags among them
  // (UBLK_F_PER_IO_DAEMON; thread_plan.h has the layout).
  uint16_t threads = 0;
  // --cpus LIST: thread i runs on cpus[i % size] (empty: each thread runs
  // on one CPU of its queue's affinity, thread_plan.h).
  std::vector<uint16_t> cpus;
  Recovery recovery = Recovery::kOff;
  TestingOptions testing;

  friend bool operator==(const DeviceSpec&, const DeviceSpec&) = default;
};

}  // namespace ublk

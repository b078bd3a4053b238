// Which server thread serves which tags of which queue (--threads), and on
// which CPUs it runs (--cpus).
//
// Each thread has its own io_uring and serves one share of one queue:
// thread t serves queue t % queues, as share t / queues of the threads that
// queue has. A share owns the queue's tags with tag % shares == share, so
// every tag belongs to exactly one thread and the tags the block layer
// hands out first (the low ones) are spread over all of a queue's threads
// alike. With as many threads as queues (the default) each thread serves a
// whole queue, as on every kernel; more threads than queues need
// UBLK_F_PER_IO_DAEMON (Linux 6.16), under which each tag's commands may
// come from a task of its own. Fewer threads than queues are refused: a
// ring serves one queue (its buffer and file tables are per queue).
//
// Placement: every thread runs on one CPU. With --cpus, thread t runs on
// cpus[t % size]. Without it a thread runs on one CPU of its queue's
// affinity (the CPUs whose I/O the block layer sends to that queue): share
// s of device d on the (d + s)-th of them, round robin, so a queue's
// threads, and the one-queue devices of one machine, spread over those
// CPUs. Left free to roam the whole affinity, a thread is woken onto the
// CPU of the task that submitted the request, which then runs on beside
// it (SCHED_BATCH does not preempt it) while another CPU idles (README,
// performance: loop at iodepth 1 with 2 vCPUs, 0.46 of the kernel loop
// driver unpinned against 0.80 pinned).
//
// Pure but for PossibleCpus (sysfs); any thread.
#pragma once

#include <cstdint>
#include <vector>

#include "ublk/result.h"
#include "ublk/spec.h"

namespace ublk {

struct ThreadShare {
  uint16_t queue = 0;
  uint16_t share = 0;   // which of the queue's threads
  uint16_t shares = 1;  // how many threads the queue has

  constexpr bool Owns(uint16_t tag) const { return tag % shares == share; }
  // How many of a queue's DEPTH tags this share owns.
  constexpr uint16_t OwnedOf(uint16_t depth) const {
    return static_cast<uint16_t>(depth / shares +
                                 (share < depth % shares ? 1 : 0));
  }
};

// THREADS (0: one per queue) threads for QUEUES queues; THREADS must be at
// least QUEUES (CheckThreads).
std::vector<ThreadShare> PlanThreads(uint16_t queues, uint16_t threads);

// The CPU thread T of device DEV_ID (serving SHARE) runs on: from CPUS
// (--cpus) when given, else one of its queue's AFFINITY; empty (no
// affinity known) leaves the thread where it is.
std::vector<int> ThreadCpus(uint32_t dev_id, uint16_t t,
                            const ThreadShare& share,
                            const std::vector<uint16_t>& cpus,
                            const std::vector<int>& affinity);

// Whether SPEC's --threads and --cpus can be served: THREADS at least the
// queues and at most one per tag; more threads than queues need
// PER_IO_DAEMON in KERNEL_FEATURES, and neither batch commands (the kernel
// drops PER_IO_DAEMON for BATCH_IO) nor a target whose queue is one
// connection (ONE_THREAD_PER_QUEUE); every --cpus entry below POSSIBLE_CPUS.
// One line naming the option on refusal.
Result<void> CheckThreads(uint64_t kernel_features, const DeviceSpec& spec,
                          bool one_thread_per_queue, int possible_cpus);

// The threads a device's server runs: SPEC's --threads, or one per queue.
inline uint16_t ThreadCount(const DeviceSpec& spec, uint16_t queues) {
  return spec.threads != 0 ? spec.threads : queues;
}

// The number of possible CPUs (/sys/devices/system/cpu/possible, "0-3"):
// the kernel grants at most one queue per possible CPU. Anything
// unreadable counts as one.
int PossibleCpus();

// Parses a CPU list ("0-3,6"), each below kMaxCpu; one line naming TEXT on
// error.
Result<std::vector<uint16_t>> ParseCpuList(const std::string& text);
// The list back as ranges ("0-3,6").
std::string FormatCpuList(const std::vector<uint16_t>& cpus);

}  // namespace ublk

// Queue: one ublk hardware queue, or one share of its tags, served by its
// own thread.
//
// With several threads per queue (--threads, UBLK_F_PER_IO_DAEMON) each
// thread has a Queue of its own for the same queue id: its own ring,
// buffers and target queue, serving only the tags of its share
// (thread_plan.h); the others' tags are foreign to its ledger. Such
// threads share the queue's metrics block and count with atomic adds.
//
// The thread creates and owns the queue's io_uring, maps the queue's
// descriptor array from /dev/ublkcN, allocates (and registers) the per-tag
// buffers in copy mode or registers an empty buffer table for the kernel to
// fill in zero-copy mode, opens the target's per-queue half, and parks
// FETCH_REQ for every tag. In user-copy mode the queue moves request data
// between /dev/ublkcN and the per-tag buffers itself, linked to the target's
// I/O (a WRITE's read before it, a READ's write before the commit), so the
// target sees copy mode. Then it loops: one io_uring_enter submits everything queued and reaps
// a batch of completions; a new request goes to the target; a finished one
// goes back with COMMIT_AND_FETCH_REQ, which also re-parks the tag.
//
// With a polled backend (RingNeeds::polled) the thread owns a second ring,
// created with IORING_SETUP_IOPOLL, for the target's I/O. While any of it
// is in flight the thread never sleeps: each pass submits both rings, polls
// the polled one once (io_uring_enter with GETEVENTS and no minimum) and
// looks at the ublk ring without waiting; with nothing in flight there it
// sleeps on the ublk ring as without polling.
//
// Every tag is always in one of three places (TagLedger): parked in the
// kernel, in the target (backend I/O in flight), or aborted by the kernel
// (-ENODEV on stop, delete or ring exit). The thread exits once every tag is
// aborted, or once RequestStop() was called and nothing is in the target.
// Run() never throws and, past setup, never allocates or blocks on anything
// but its own ring.
//
// With QueueConfig::batch (UBLK_F_BATCH_IO, 7.0) the per-tag commands give
// way to batch commands: one PREP_IO_CMDS parks every tag at setup, one
// multishot FETCH_IO_CMDS delivers new requests as u16 tags into a
// provided-buffer ring (re-armed when it ends with -ENOBUFS or without
// CQE_F_MORE), and the results a pass produced go back together in one
// COMMIT_IO_CMDS queued just before the pass's io_uring_enter, from
// element arrays allocated at setup (batch_commit.h). A user-copy READ's
// write to /dev/ublkcN is then not linked to its commit: the tag joins the
// batch once the write came back. When the fetch ends for good (-ENODEV on
// stop, delete or quiesce) every parked tag is aborted, and a tag the
// target finishes later is committed and aborted at once.
//
// With QueueConfig::metrics the thread counts what it serves in its block
// of the device's metrics file (metrics_layout.h), which only it writes:
// a request's counts and latency are recorded at the end of the pass that
// queued its commit, with one clock read in a pass that reaps new requests
// and one at the end of a pass that commits any.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <future>
#include <memory>
#include <vector>

#include "batch_commit.h"
#include "data_path.h"
#include "metrics_layout.h"
#include "shmem_region.h"
#include "spin_policy.h"
#include "tag_ledger.h"
#include "ublk/abi.h"
#include "ublk/fd.h"
#include "ublk/mmap.h"
#include "ublk/queue_context.h"
#include "ublk/result.h"
#include "ublk/ring.h"
#include "ublk/target.h"

namespace ublk {

struct QueueConfig {
  uint32_t dev_id = 0;
  uint16_t id = 0;
  uint16_t depth = 0;
  // This thread serves the tags with tag % shares == share.
  uint16_t share = 0;
  uint16_t shares = 1;
  uint32_t max_io_bytes = 0;
  // The device's size, which `ublk resize` changes while the queue runs:
  // owned by the server, written by its main thread, read here (relaxed).
  const std::atomic<uint64_t>* dev_bytes = nullptr;
  int char_fd = -1;         // /dev/ublkcN, borrowed; outlives the queue
  int exit_notify_fd = -1;  // eventfd bumped when the thread exits
  DataPath data_path = DataPath::kCopy;
  bool batch = false;  // the device has UBLK_F_BATCH_IO
  bool zoned = false;  // ... and UBLK_F_ZONED (batch elements then carry
                       // the zone-append sector)
  RingNeeds ring_needs;
  bool register_buffers = false;  // copy mode: the target reads/writes the
                                  // per-tag buffers itself
  bool occupy_auto_slots = false;  // --force-auto-fallback (testing)
  // Automatic registration asks for FALLBACK (a request whose registration
  // failed comes with NEED_REG_BUF, to be registered by hand); without it
  // the kernel fails such a request (a target that cannot register by hand:
  // DataAccess::kMemoryOrAutoBuf).
  bool auto_buf_fallback = true;
  // --shmem_zc: the shared memory, borrowed (outlives the queue). With
  // register_buffers it is also fixed buffer `depth` of the ring.
  const ShmemRegion* shmem = nullptr;
  // INTEGRITY (user copy or zero copy): metadata bytes per logical block
  // of 2^block_shift bytes; each tag then has a metadata buffer that the
  // queue fills from and returns to the request's integrity buffer through
  // /dev/ublkcN (the device has USER_COPY for that in every data path).
  uint8_t metadata_size = 0;
  uint8_t block_shift = 9;
  std::vector<int> cpus;          // affinity; empty: leave as is
  // This queue's block in the metrics file, written only by the queue
  // thread; null with --metrics=off. Borrowed: outlives the queue.
  metrics::QueueBlock* metrics = nullptr;
  // --poll-us: how long the thread may busy-check its ring before it
  // sleeps (spin_policy.h); 0 never.
  uint32_t poll_us = 0;
};

class Queue {
 public:
  Queue(QueueConfig config, Target& target);
  Queue(const Queue&) = delete;
  Queue& operator=(const Queue&) = delete;
  ~Queue();

  // Thread body. Reports setup success or failure through `ready` (after
  // every tag is fetched), then serves until done.
  void Run(std::promise<Result<void>> ready) noexcept;
  // Any thread: asks the queue thread to finish in-flight target I/O and exit.
  void RequestStop();
  // The queue thread's id, once Run has started it (0 before).
  pid_t tid() const { return tid_.load(std::memory_order_relaxed); }

 private:
  struct TagChain {
    bool by_hand = false;      // the request is registered around each I/O
    bool second_slot = false;  // which of the tag's two slots the last used
    // User copy, one request at a time:
    uint8_t copies_in_pending = 0;  // a WRITE's reads from /dev/ublkcN out
    bool copy_failed = false;      // ... and came back short or failed
    bool finish_waiting = false;   // the target finished before it came back
    int finish_result = 0;         // ... with this
    uint64_t append_sector = 0;    // a ZONE_APPEND done: where it wrote
    bool copy_out_linked = false;  // a READ's commit waits behind its write
                                   // to /dev/ublkcN
    // Batch: the writes to /dev/ublkcN still out before the commit.
    uint8_t copies_out_pending = 0;
  };

  Result<void> Setup();
  Result<void> SetupPollRing(const std::vector<iovec>& buffers);
  bool Pass() noexcept;
  // --poll-us: checks the ring without sleeping until a completion
  // beyond the BESIDES this pass's commit will post is there or the spin
  // budget is spent. 1: work found, 0: none, -1: the ring failed (logged).
  int Spin(io_uring* ring, unsigned besides) noexcept;
  unsigned Reap(io_uring* ring) noexcept;
  void Serve() noexcept;
  void HandleCqe(const io_uring_cqe* cqe) noexcept;
  void OnFetchDone(uint16_t tag, int res) noexcept;
  // A new request for a parked tag: to the target.
  void OnRequest(uint16_t tag) noexcept;
  // The commit of TAG with RESULT: COMMIT_AND_FETCH_REQ, or in batch mode
  // an element of the next COMMIT_IO_CMDS. False only on a broken ring.
  bool QueueCommit(uint16_t tag, int result) noexcept;
  Result<void> SetupBatch();
  bool ArmBatchFetch() noexcept;
  void OnBatchFetch(const io_uring_cqe* cqe) noexcept;
  void OnBatchCommit(uint8_t slot, int res) noexcept;
  // Queues one COMMIT_IO_CMDS for what the last pass finished; true when
  // it did.
  bool FlushCommits() noexcept;
  // Queues one batch command (header in sqe->cmd, ELEMS/BYTES at
  // sqe->addr/len) tagged UD; the SQE, for the caller to add to, or null
  // when the SQ is full.
  io_uring_sqe* QueueBatchCmd(uint32_t op, const abi::BatchIo& header,
                              const void* elems, uint32_t bytes,
                              UserData ud) noexcept;
  void OnTargetDone(uint16_t tag, const Completion& c) noexcept;
  void Finish(uint16_t tag, int result) noexcept;
  // QueueContext::FinishRequest lands here.
  static void FinishFromTarget(void* self, uint16_t tag, int result) noexcept;
  bool QueueIoCmd(uint32_t op, uint16_t tag, int result) noexcept;
  bool ArmStopEvent() noexcept;
  void BeginTargetCall(uint16_t tag, bool first) noexcept;
  void OnCopyDone(uint16_t tag, uint16_t kind, int res) noexcept;
  uint32_t MetaBytes(uint32_t data_bytes) const noexcept {
    return (data_bytes >> config_.block_shift) * config_.metadata_size;
  }
  bool QueueCopyOutAndCommit(uint16_t tag, int result) noexcept;
  void EndTargetCall() noexcept;
  Result<void> OccupyAutoSlots();
  io_uring_sqe* NextSqe() noexcept;
  bool UseShmem(uint16_t tag, const abi::IoDesc& desc) noexcept;
  // Reads the tag's WRITE integrity data from /dev/ublkcN into its metadata
  // buffer at once (for requests registered by hand).
  bool ReadMetaNow(uint16_t tag) noexcept;
  void UseTagBuffer(uint16_t tag) noexcept;
  void NoteFinished(uint16_t tag, int result) noexcept;
  void RecordFinished(uint64_t now_ns) noexcept;
  // A metrics counter += N: a plain store when this thread is the block's
  // only writer, an atomic add when the queue's threads share it.
  void Count(metrics::Counter& c, uint64_t n) const noexcept {
    if (config_.shares == 1)
      metrics::Add(c, n);
    else
      c.fetch_add(n, std::memory_order_relaxed);
  }
  bool Owns(uint16_t tag) const noexcept {
    return tag % config_.shares == config_.share;
  }

  QueueConfig config_;
  Target& target_;
  Fd stop_fd_;
  std::atomic<pid_t> tid_{0};
  uint64_t stop_value_ = 0;  // read target of the stop eventfd

  // Acquired on the queue thread, in this order; released in reverse.
  std::unique_ptr<Ring> ring_;
  std::unique_ptr<Ring> poll_ring_;  // RingNeeds::polled only
  Mmap descs_;
  Mmap buffers_;
  Mmap meta_buffers_;  // INTEGRITY: one per tag, MetaBytes(max_io_bytes)
  Mmap occupier_;
  std::unique_ptr<QueueContext> context_;
  std::unique_ptr<TargetQueue> target_queue_;

  // Batch mode: the commit element arrays, the fetch's provided-buffer
  // ring and tag buffer, how far the kernel filled that buffer, and the
  // fetch's final error once it ended for good (0 while it runs).
  CommitBatches commits_;
  Mmap fetch_mem_;
  uint32_t fetch_off_ = 0;
  int fetch_error_ = 0;
  uint64_t batch_commits_ = 0;  // statistics: COMMIT_IO_CMDS sent
  uint64_t commits_resent_ = 0;  // ... elements past a refused one, resent
  uint64_t fetch_arms_ = 0;     // ... FETCH_IO_CMDS armed

  TagLedger ledger_;
  std::vector<Request> requests_;
  std::vector<TagChain> chains_;
  uint64_t requests_served_ = 0;  // statistics, logged at exit
  uint64_t wakeups_ = 0;
  uint64_t registered_by_hand_ = 0;
  uint64_t rejected_ = 0;  // descriptors that failed CheckIoDesc
  uint64_t copy_failures_ = 0;  // user copy: short or failed transfers
  uint64_t shmem_served_ = 0;   // SHMEM_ZC: served from the shared memory
  uint64_t polled_in_flight_ = 0;   // SQEs on the polled ring not reaped
  uint64_t polled_completions_ = 0;  // statistics: reaped from it
  uint64_t polling_passes_ = 0;      // ... in passes that did not sleep
  SpinPolicy spin_;
  uint64_t spins_found_ = 0;  // statistics: --poll-us spins that found work
  uint64_t spins_idle_ = 0;   // ... and that slept after all
  bool stop_requested_ = false;

  // Metrics (config_.metrics set): when each tag's request was reaped, and
  // the requests finished in this pass, recorded at its end.
  struct Finished {
    uint16_t tag;
    uint8_t op;  // metrics::Op
    int result;
    uint32_t bytes;
  };
  uint64_t pass_ns_ = 0;  // the clock when this pass reaped its first
                          // request; 0 until then
  std::vector<uint64_t> reaped_ns_;
  std::vector<Finished> finished_;
  size_t finished_count_ = 0;
};

}  // namespace ublk

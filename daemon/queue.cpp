#include "queue.h"

#include <sched.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "io_desc_check.h"
#include "metrics_file.h"
#include "ublk/log.h"
#include "ublk/user_data.h"

namespace ublk {
namespace {

// The queue threads' time slice (sched_attr.sched_runtime of a fair task,
// Linux 6.12+, which clamps it to 0.1-100 ms).
constexpr uint64_t kQueueSliceNs = 20'000'000;

// sched_setattr(2)'s argument, its first version (48 bytes).
struct SchedAttr {
  uint32_t size;
  uint32_t sched_policy;
  uint64_t sched_flags;
  int32_t sched_nice;
  uint32_t sched_priority;
  uint64_t sched_runtime;
  uint64_t sched_deadline;
  uint64_t sched_period;
};
static_assert(sizeof(SchedAttr) == 48);

// Registered buffers are pinned: without CAP_IPC_LOCK (an unprivileged
// device's server) they count against RLIMIT_MEMLOCK, often 8 MiB.
Error MemlockError(size_t bytes) {
  rlimit lim{};
  const bool known = ::getrlimit(RLIMIT_MEMLOCK, &lim) == 0 &&
                     lim.rlim_cur != RLIM_INFINITY;
  return SysError(
      ENOMEM, "registering " + std::to_string(bytes >> 20) +
                  " MiB of per-tag buffers" +
                  (known ? " (locked-memory limit " +
                               std::to_string(lim.rlim_cur >> 20) + " MiB)"
                         : std::string()) +
                  ": lower -d or --max_io_buf_bytes, or raise the limit "
                  "(ulimit -l)");
}

constexpr size_t RoundUp(size_t v, size_t to) { return (v + to - 1) / to * to; }

size_t PageSize() { return static_cast<size_t>(sysconf(_SC_PAGESIZE)); }

// Batch mode: the fetch's tag buffer (consumed a delivery at a time, so one
// arming takes 8192 tags before the kernel asks for it again), its
// provided-buffer group, and the user_data slot of PREP_IO_CMDS.
constexpr uint32_t kFetchBufBytes = 16384;
constexpr uint16_t kFetchGroup = 0;
constexpr uint16_t kPrepSlot = 0xff;
// IORING_CQE_F_BUF_MORE (6.12): the buffer stays in the ring, partly used.
constexpr uint32_t kCqeFBufMore = 1u << 4;

}  // namespace

Queue::Queue(QueueConfig config, Target& target)
    : config_(std::move(config)),
      target_(target),
      stop_fd_(eventfd(0, EFD_CLOEXEC)),
      spin_(uint64_t{config_.poll_us} * 1000) {}

Queue::~Queue() = default;

void Queue::RequestStop() {
  uint64_t one = 1;
  if (stop_fd_.valid()) (void)!::write(stop_fd_.get(), &one, sizeof(one));
}

void Queue::Run(std::promise<Result<void>> ready) noexcept {
  Result<void> setup = Invalid("queue setup did not run");
  try {
    setup = Setup();
  } catch (const std::exception& e) {
    setup = Invalid(std::string("queue setup: ") + e.what());
  }
  bool ok = setup.ok();
  if (!ok) {
    log::Error("dev {} queue {}: {}", config_.dev_id, config_.id,
               setup.error().message());
  }
  ready.set_value(std::move(setup));
  if (ok) {
    log::Info("dev {} queue {}: serving {} tags{}{}, ring {}", config_.dev_id,
              config_.id, ledger_.owned(),
              config_.shares > 1
                  ? " (share " + std::to_string(config_.share) + " of " +
                        std::to_string(config_.shares) + ")"
                  : std::string(),
              config_.batch ? " with batch commands" : "",
              SetupFlagNames(ring_->setup_flags()));
    Serve();
    log::Info(
        "dev {} queue {}: exit; {} requests in {} wakeups, {} registered by "
        "hand, {} tags aborted, {} errors, {} rejected descriptors, {} "
        "failed copies, {} from shared memory, {} polled completions in {} "
        "polling passes, {} batch commits ({} elements resent), {} batch "
        "fetches armed, {} spins found work and {} did not",
        config_.dev_id, config_.id, requests_served_, wakeups_,
        registered_by_hand_, ledger_.aborted(), ledger_.unexpected(),
        rejected_, copy_failures_, shmem_served_, polled_completions_,
        polling_passes_, batch_commits_, commits_resent_, fetch_arms_,
        spins_found_,
        spins_idle_);
  }
  // Release the ring (cancelling anything still parked) before telling the
  // main thread we are gone.
  target_queue_.reset();
  context_.reset();
  poll_ring_.reset();
  ring_.reset();
  if (config_.exit_notify_fd >= 0) {
    uint64_t one = 1;
    (void)!::write(config_.exit_notify_fd, &one, sizeof(one));
  }
}

Result<void> Queue::Setup() {
  if (!stop_fd_.valid()) return SysError(errno, "creating the stop eventfd");
  tid_.store(gettid(), std::memory_order_relaxed);
  // This thread writes back pages for the device it serves: memory reclaim
  // must not make it wait for that same device (the kernel's loop and nbd
  // workers are marked the same way). Needs CAP_SYS_RESOURCE.
  if (prctl(PR_SET_IO_FLUSHER, 1, 0, 0, 0) != 0)
    log::Warn("dev {} queue {}: PR_SET_IO_FLUSHER: {}", config_.dev_id,
              config_.id, std::strerror(errno));
  if (!config_.cpus.empty()) {
    cpu_set_t set;
    CPU_ZERO(&set);
    for (int cpu : config_.cpus) CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof(set), &set) != 0)
      log::Warn("dev {} queue {}: cannot pin to its CPUs: {}", config_.dev_id,
                config_.id, std::strerror(errno));
  }

  // SCHED_BATCH: a request's arrival then does not preempt the task that
  // submitted it, so a submitter sharing our CPU queues its whole batch
  // before we run and we serve the batch in one pass. When the submitter
  // blocks (queue depth 1) the CPU is free and we run at once anyway.
  // With a long time slice (EEVDF's custom slice, Linux 6.12+; older
  // kernels ignore it) a pass, once running, is not cut short by the
  // submitter waking for the completions it commits, which would split it
  // into more switches (README, performance).
  SchedAttr attr{};
  attr.size = sizeof(attr);
  attr.sched_policy = SCHED_BATCH;
  attr.sched_runtime = kQueueSliceNs;
  if (syscall(SYS_sched_setattr, 0, &attr, 0) != 0) {
    sched_param sp{};
    if (sched_setscheduler(0, SCHED_BATCH, &sp) != 0)
      log::Warn("dev {} queue {}: SCHED_BATCH: {}", config_.dev_id,
                config_.id, std::strerror(errno));
  }

  // Room for a commit and the target's SQEs for every tag, plus a register
  // and an unregister when zero copy may register by hand, plus the stop
  // read.
  const bool zero_copy = IsZeroCopy(config_.data_path);
  // User copy adds the copy in or out.
  const bool user_copy = config_.data_path == DataPath::kUserCopy;
  // Integrity data moves by user copy in every data path (UBLK_F_INTEGRITY
  // comes with USER_COPY; with zero copy only the data is the request's).
  const bool integrity = config_.metadata_size != 0;
  const unsigned per_tag = 1u + config_.ring_needs.sqes_per_io +
                           (zero_copy ? 2u : 0u) + (user_copy ? 1u : 0u) +
                           (integrity ? 1u : 0u);
  unsigned entries = 2;
  while (entries < config_.depth * per_tag + 1) entries <<= 1;
  auto ring = Ring::Create({.entries = entries,
                            .big_sqe = config_.ring_needs.big_sqe,
                            .big_cqe = config_.ring_needs.big_cqe,
                            .owned_by_thread = true,
                            .taskrun_flag = config_.poll_us != 0});
  if (!ring) return ring.error();
  ring_ = std::make_unique<Ring>(std::move(*ring));
  io_uring* r = ring_->get();
  (void)io_uring_register_ring_fd(r);  // an optimisation only (5.18+)

  int ret = io_uring_register_files_sparse(r, kFileSlots);
  if (ret < 0) return SysError(-ret, "registering the queue's file table");
  int char_fd = config_.char_fd;
  ret = io_uring_register_files_update(r, kCharFileSlot, &char_fd, 1);
  if (ret < 0) return SysError(-ret, "registering /dev/ublkc");

  const size_t page = PageSize();
  const size_t stride = RoundUp(abi::kMaxQueueDepth * sizeof(abi::IoDesc), page);
  auto descs = Mmap::Map(RoundUp(config_.depth * sizeof(abi::IoDesc), page),
                         PROT_READ, MAP_SHARED | MAP_POPULATE, config_.char_fd,
                         abi::kCmdBufOffset + config_.id * stride,
                         "the queue's I/O descriptors");
  if (!descs) return descs.error();
  descs_ = std::move(*descs);

  if (config_.ring_needs.polled && !KernelCopies(config_.data_path))
    return Invalid(std::string("--poll works only in copy mode, not with "
                               "data path ") +
                   DataPathName(config_.data_path));
  std::vector<iovec> iov;  // the fixed buffers, for the polled ring too
  if (HasTagBuffers(config_.data_path)) {
    auto bufs = Mmap::Map(size_t{config_.depth} * config_.max_io_bytes,
                          PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                          -1, 0, "per-tag buffers");
    if (!bufs) return bufs.error();
    buffers_ = std::move(*bufs);
    if (config_.register_buffers) {
      // Another thread's tags get an empty slot: nothing pinned for them.
      iov.assign(config_.depth, iovec{nullptr, 0});
      for (uint16_t t = 0; t < config_.depth; ++t)
        if (Owns(t))
          iov[t] = {static_cast<char*>(buffers_.data()) +
                        size_t{t} * config_.max_io_bytes,
                    config_.max_io_bytes};
      // The shared memory after them, so a request served from it is
      // fixed-buffer I/O like any other.
      if (config_.shmem != nullptr)
        iov.push_back({config_.shmem->base(), config_.shmem->size()});
      ret = io_uring_register_buffers(r, iov.data(), iov.size());
      if (ret == -ENOMEM) return MemlockError(buffers_.size());
      if (ret < 0) return SysError(-ret, "registering per-tag buffers");
    }
  } else if (zero_copy) {
    // An empty table. Slots [0, depth): automatic registration fills slot
    // `tag` with a request's pages before delivering it and empties it at
    // the commit. Slots [depth, 3 * depth): registration by hand, two per
    // tag used in turn, so a resubmission (short transfer) never waits for
    // the previous chain's unregister to free its slot.
    ret = io_uring_register_buffers_sparse(r, 3u * config_.depth);
    if (ret < 0) return SysError(-ret, "registering the zero-copy buffer table");
    if (config_.data_path == DataPath::kAutoBufReg &&
        config_.occupy_auto_slots) {
      UBLK_RETURN_IF_ERROR(OccupyAutoSlots());
    }
  }

  if (integrity) {
    auto meta = Mmap::Map(size_t{config_.depth} * MetaBytes(config_.max_io_bytes),
                          PROT_READ | PROT_WRITE,
                          MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0,
                          "per-tag metadata buffers");
    if (!meta) return meta.error();
    meta_buffers_ = std::move(*meta);
  }

  if (config_.ring_needs.polled) UBLK_RETURN_IF_ERROR(SetupPollRing(iov));
  unsigned sqe_bytes = config_.ring_needs.big_sqe ? 128 : 64;
  context_ = std::make_unique<QueueContext>(
      r, config_.id, config_.depth, sqe_bytes, config_.ring_needs.sqes_per_io,
      poll_ring_ ? poll_ring_->get() : nullptr);
  context_->SetFinisher(&Queue::FinishFromTarget, this);
  auto tq = target_.OpenQueue(*context_);
  if (!tq) return tq.error();
  target_queue_ = std::move(*tq);

  ledger_.Reset(config_.depth, config_.shares, config_.share);
  if (config_.metrics != nullptr) {
    reaped_ns_.assign(config_.depth, 0);
    finished_.assign(config_.depth, Finished{});
  }
  requests_.assign(config_.depth, Request{});
  chains_.assign(config_.depth, TagChain{});
  for (uint16_t t = 0; t < config_.depth; ++t) {
    requests_[t].tag = t;
    UseTagBuffer(t);
  }
  if (config_.batch) {
    if (config_.shares != 1)
      return Invalid("batch commands serve a queue from one thread");
    UBLK_RETURN_IF_ERROR(SetupBatch());
    if (!ArmStopEvent()) return Invalid("no SQE for the stop event");
    ret = io_uring_submit(r);
    if (ret < 0) return SysError(-ret, "submitting FETCH_IO_CMDS");
    return {};
  }
  if (!ArmStopEvent()) return Invalid("no SQE for the stop event");
  for (uint16_t t = config_.share; t < config_.depth; t += config_.shares)
    if (!QueueIoCmd(abi::kIoFetchReq, t, 0))
      return Invalid("no SQE for FETCH_REQ");
  ret = io_uring_submit(r);
  if (ret < 0) return SysError(-ret, "submitting FETCH_REQ");
  return {};
}

Result<void> Queue::SetupBatch() {
  io_uring* r = ring_->get();
  const DataPath dp = config_.data_path;
  const BatchLayout layout =
      BatchLayout::For(KernelCopies(dp), config_.zoned,
                       dp == DataPath::kAutoBufReg && config_.auto_buf_fallback);
  commits_.Reset(config_.depth, layout);

  // Every tag parked at once, with its buffer (copy mode) or its automatic
  // registration slot; the kernel answers before this returns, so a refusal
  // fails the setup with its reason.
  std::vector<uint8_t> prep(size_t{config_.depth} * layout.elem_bytes);
  for (uint16_t t = 0; t < config_.depth; ++t)
    EncodeBatchElem(layout, {.tag = t, .buf_index = t,
                             .buf_addr = requests_[t].buf_addr},
                    prep.data() + size_t{t} * layout.elem_bytes);
  if (!QueueBatchCmd(abi::kIoPrepIoCmds,
                     BatchHeader(config_.id, layout, config_.depth),
                     prep.data(), static_cast<uint32_t>(prep.size()),
                     {0, UserOp::kBatchCommit, kPrepSlot, config_.id}))
    return Invalid("no SQE for PREP_IO_CMDS");
  int ret = io_uring_submit_and_wait(r, 1);
  if (ret < 0) return SysError(-ret, "submitting PREP_IO_CMDS");
  io_uring_cqe* cqe = nullptr;
  ret = io_uring_peek_cqe(r, &cqe);
  if (ret < 0) return SysError(-ret, "waiting for PREP_IO_CMDS");
  const int res = cqe->res;
  const UserData ud = DecodeUserData(cqe->user_data);
  io_uring_cqe_seen(r, cqe);
  if (ud.op != UserOp::kBatchCommit || ud.target_data != kPrepSlot)
    return Invalid("an unexpected completion before PREP_IO_CMDS's");
  if (res < 0)
    return SysError(-res, "PREP_IO_CMDS (parking the queue's tags)");

  // One buffer of tags in a one-entry provided-buffer ring, consumed
  // incrementally; the ring's page first, the tags after it.
  const size_t page = PageSize();
  auto mem = Mmap::Map(page + kFetchBufBytes, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0,
                       "the fetch's tag buffer");
  if (!mem) return mem.error();
  fetch_mem_ = std::move(*mem);
  auto* br = static_cast<io_uring_buf_ring*>(fetch_mem_.data());
  io_uring_buf_ring_init(br);
  io_uring_buf_reg reg{};
  reg.ring_addr = reinterpret_cast<uintptr_t>(br);
  reg.ring_entries = 1;
  reg.bgid = kFetchGroup;
  reg.pad = abi::kPbufRingInc;  // the flags field in newer headers
  ret = io_uring_register_buf_ring(r, &reg, 0);
  if (ret < 0)
    return SysError(-ret, "registering the fetch's provided-buffer ring");
  fetch_off_ = kFetchBufBytes;  // the buffer is not in the ring yet
  if (!ArmBatchFetch()) return Invalid("no SQE for FETCH_IO_CMDS");
  return {};
}

io_uring_sqe* Queue::QueueBatchCmd(uint32_t op, const abi::BatchIo& header,
                                   const void* elems, uint32_t bytes,
                                   UserData ud) noexcept {
  io_uring_sqe* sqe = NextSqe();
  if (sqe == nullptr) return nullptr;
  std::memset(sqe, 0, config_.ring_needs.big_sqe ? 128 : 64);
  io_uring_prep_rw(IORING_OP_URING_CMD, sqe, kCharFileSlot, elems, bytes, 0);
  sqe->flags = IOSQE_FIXED_FILE;
  sqe->cmd_op = op;
  std::memcpy(sqe->cmd, &header, sizeof(header));
  sqe->user_data = EncodeUserData(ud);
  return sqe;
}

bool Queue::ArmBatchFetch() noexcept {
  // The buffer goes back into the ring only once the kernel is done with
  // it (a delivery without BUF_MORE, or -ENOBUFS): a partly used one is
  // still there, and the ring has room for one.
  if (fetch_off_ >= kFetchBufBytes) {
    auto* br = static_cast<io_uring_buf_ring*>(fetch_mem_.data());
    io_uring_buf_ring_add(br, static_cast<char*>(fetch_mem_.data()) + PageSize(),
                          kFetchBufBytes, 0, io_uring_buf_ring_mask(1), 0);
    io_uring_buf_ring_advance(br, 1);
    fetch_off_ = 0;
  }
  io_uring_sqe* sqe = QueueBatchCmd(
      abi::kIoFetchIoCmds, FetchHeader(config_.id, kFetchBufBytes / 2),
      nullptr, 0, {0, UserOp::kBatchFetch, 0, config_.id});
  if (sqe == nullptr) return false;
  sqe->flags |= IOSQE_BUFFER_SELECT;
  sqe->uring_cmd_flags = abi::kUringCmdMultishot;
  sqe->buf_group = kFetchGroup;
  ++fetch_arms_;
  return true;
}

void Queue::OnBatchFetch(const io_uring_cqe* cqe) noexcept {
  const int res = cqe->res;
  if (res > 0) {
    // RES bytes of tags where the last delivery ended.
    uint32_t bytes = static_cast<uint32_t>(res);
    if (bytes > kFetchBufBytes - fetch_off_) {
      ledger_.NoteUnexpected();
      bytes = kFetchBufBytes - fetch_off_;
    }
    const char* tags =
        static_cast<const char*>(fetch_mem_.data()) + PageSize() + fetch_off_;
    fetch_off_ += bytes;
    for (uint32_t i = 0; i + 2 <= bytes; i += 2) {
      uint16_t tag;
      std::memcpy(&tag, tags + i, sizeof(tag));
      OnRequest(tag);
    }
    if (!(cqe->flags & kCqeFBufMore)) fetch_off_ = kFetchBufBytes;
  }
  if (cqe->flags & IORING_CQE_F_MORE) return;
  if (res == -ENOBUFS) fetch_off_ = kFetchBufBytes;
  if ((res >= 0 || res == -ENOBUFS) && ArmBatchFetch()) return;
  // The fetch ended for good: the kernel holds none of the parked tags.
  fetch_error_ = res < 0 ? res : -EIO;
  for (uint16_t t = 0; t < config_.depth; ++t)
    if (ledger_.state(t) == TagLedger::State::kParked)
      (void)ledger_.Abort(t, /*expected=*/fetch_error_ == -ENODEV);
}

bool Queue::FlushCommits() noexcept {
  if (commits_.pending() == 0) return false;
  const CommitBatches::Batch b = commits_.Take();
  if (b.count == 0) return false;  // every other slot still with the kernel
  ++batch_commits_;
  if (QueueBatchCmd(abi::kIoCommitIoCmds,
                    BatchHeader(config_.id, commits_.layout(), b.count),
                    b.data, b.bytes,
                    {0, UserOp::kBatchCommit, b.slot, config_.id}))
    return true;
  // Only a broken ring gets here; the kernel aborts the tags on ring exit.
  for (uint16_t i = 0; i < b.count; ++i)
    (void)ledger_.Abort(commits_.TagAt(b.slot, i), /*expected=*/false);
  (void)commits_.Done(b.slot);
  return false;
}

void Queue::OnBatchCommit(uint8_t slot, int res) noexcept {
  if (slot >= CommitBatches::kSlots) {
    ledger_.NoteUnexpected();
    return;
  }
  // RES is the bytes consumed: the kernel stopped at the first element it
  // refused, and looked at none after it. The refused tag is lost to the
  // queue; the ones after it go out again with the next pass's commit. A
  // failed command (RES < 0: -ENODEV on stop) took none: all are lost.
  const uint16_t n = commits_.count(slot);
  const unsigned eb = commits_.layout().elem_bytes;
  const unsigned done = res > 0 ? static_cast<unsigned>(res) / eb : 0;
  for (unsigned i = done; i < n; ++i) {
    if (res >= 0 && i > done && commits_.Requeue(slot, i)) {
      ++commits_resent_;
      continue;
    }
    const uint16_t tag = commits_.TagAt(slot, i);
    if (tag < config_.depth &&
        ledger_.state(tag) == TagLedger::State::kParked)
      (void)ledger_.Abort(tag, /*expected=*/res == -ENODEV);
    else
      ledger_.NoteUnexpected();
  }
  if (!commits_.Done(slot)) ledger_.NoteUnexpected();
}

bool Queue::QueueCommit(uint16_t tag, int result) noexcept {
  if (!config_.batch)
    return QueueIoCmd(abi::kIoCommitAndFetchReq, tag, result);
  const bool append = requests_[tag].op == abi::kOpZoneAppend;
  if (!commits_.Add({.tag = tag,
                     .buf_index = tag,
                     .result = result,
                     .buf_addr = requests_[tag].buf_addr,
                     .zone_lba = append ? chains_[tag].append_sector : 0}))
    return false;
  // After the fetch ended the kernel gives nothing back: the tag is done.
  if (fetch_error_ != 0 && ledger_.state(tag) == TagLedger::State::kParked)
    (void)ledger_.Abort(tag, /*expected=*/fetch_error_ == -ENODEV);
  return true;
}

Result<void> Queue::SetupPollRing(const std::vector<iovec>& buffers) {
  unsigned entries = 2;
  while (entries < config_.depth * config_.ring_needs.sqes_per_io) entries <<= 1;
  auto ring = Ring::Create({.entries = entries,
                            .big_sqe = config_.ring_needs.big_sqe,
                            .big_cqe = config_.ring_needs.big_cqe,
                            .owned_by_thread = true,
                            .iopoll = true});
  if (!ring) return ring.error().Wrap("the polled ring");
  poll_ring_ = std::make_unique<Ring>(std::move(*ring));
  io_uring* p = poll_ring_->get();
  (void)io_uring_register_ring_fd(p);
  // The same file table layout (QueueContext::AddFile fills both) and the
  // same fixed buffers at the same indexes: a target's SQE reads alike on
  // either ring. Slot kCharFileSlot stays empty: /dev/ublkcN takes no
  // polled I/O.
  int ret = io_uring_register_files_sparse(p, kFileSlots);
  if (ret < 0) return SysError(-ret, "registering the polled ring's file table");
  if (!buffers.empty()) {
    ret = io_uring_register_buffers(p, buffers.data(), buffers.size());
    if (ret < 0)
      return SysError(-ret, "registering per-tag buffers on the polled ring");
  }
  log::Info("dev {} queue {}: polled ring {}", config_.dev_id, config_.id,
            SetupFlagNames(poll_ring_->setup_flags()));
  return {};
}

Result<void> Queue::OccupyAutoSlots() {
  // --force-auto-fallback: a user buffer in every automatic slot makes each
  // automatic registration fail, so every request takes the NEED_REG_BUF
  // path.
  auto page = Mmap::Map(PageSize(), PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0, "a test page");
  if (!page) return page.error();
  occupier_ = std::move(*page);
  std::vector<iovec> iov(config_.depth, iovec{occupier_.data(), PageSize()});
  std::vector<__u64> tags(config_.depth, 0);
  int ret = io_uring_register_buffers_update_tag(ring_->get(), 0, iov.data(),
                                                 tags.data(), config_.depth);
  if (ret < 0) return SysError(-ret, "occupying the automatic slots");
  log::Warn("dev {} queue {}: --force-auto-fallback: every request is "
            "registered by hand",
            config_.dev_id, config_.id);
  return {};
}

io_uring_sqe* Queue::NextSqe() noexcept {
  io_uring* r = ring_->get();
  io_uring_sqe* sqe = io_uring_get_sqe(r);
  if (sqe == nullptr) {
    // Cannot happen with the ring sized for every tag; flush and retry.
    if (io_uring_submit(r) < 0) return nullptr;
    sqe = io_uring_get_sqe(r);
  }
  return sqe;
}

bool Queue::ArmStopEvent() noexcept {
  io_uring_sqe* sqe = NextSqe();
  if (sqe == nullptr) return false;
  io_uring_prep_read(sqe, stop_fd_.get(), &stop_value_, sizeof(stop_value_), 0);
  sqe->user_data = EncodeUserData({0, UserOp::kStopEvent, 0, config_.id});
  return true;
}

bool Queue::QueueIoCmd(uint32_t op, uint16_t tag, int result) noexcept {
  io_uring_sqe* sqe = NextSqe();
  if (sqe == nullptr) return false;
  std::memset(sqe, 0, config_.ring_needs.big_sqe ? 128 : 64);
  io_uring_prep_rw(IORING_OP_URING_CMD, sqe, kCharFileSlot, nullptr, 0, 0);
  sqe->flags = IOSQE_FIXED_FILE;
  sqe->cmd_op = op;
  abi::IoCmd cmd{};
  cmd.q_id = config_.id;
  cmd.tag = tag;
  cmd.result = result;
  if (KernelCopies(config_.data_path)) cmd.addr = requests_[tag].buf_addr;
  // Where the kernel reads a ZONE_APPEND's written sector (zone_append_lba).
  if (op == abi::kIoCommitAndFetchReq && requests_[tag].op == abi::kOpZoneAppend)
    cmd.addr = chains_[tag].append_sector;
  std::memcpy(sqe->cmd, &cmd, sizeof(cmd));
  // The slot for the next request on this tag; cmd.addr must stay 0. With
  // FALLBACK a failed registration arrives as NEED_REG_BUF instead of
  // failing the block request unseen.
  if (config_.data_path == DataPath::kAutoBufReg && op != abi::kIoNeedGetData)
    sqe->addr = abi::AutoBufReg(
        tag, config_.auto_buf_fallback ? abi::kAutoBufRegFallback : 0);
  sqe->user_data = EncodeUserData({tag, UserOp::kFetch, 0, config_.id});
  return true;
}

void Queue::Serve() noexcept {
  while (Pass()) {
    ++wakeups_;
    if (ledger_.Drained(stop_requested_)) {
      // The last pass's results reach the kernel before the ring goes.
      if (config_.batch) {
        FlushCommits();
        (void)io_uring_submit(ring_->get());
      }
      return;
    }
  }
}

namespace {

// False, with the error logged, when io_uring_enter on RING failed for
// good (an interrupted or busy enter is retried by the next pass).
template <typename Config>
bool Entered(int ret, const Config& config, const char* ring) {
  if (ret >= 0 || ret == -EINTR || ret == -EAGAIN || ret == -EBUSY ||
      ret == -ETIME)
    return true;
  log::Error("dev {} queue {}: io_uring_enter{}: {}", config.dev_id, config.id,
             ring, std::strerror(-ret));
  return false;
}

}  // namespace

bool Queue::Pass() noexcept {
  io_uring* r = ring_->get();
  // Batch mode: one COMMIT_IO_CMDS for everything the last pass finished,
  // submitted by this pass's enter. Its completion, posted as it is
  // submitted, is not what the pass waits for: while the fetch runs, a new
  // request (or the fetch's end, or a stop) is still to come, so the pass
  // sleeps for one completion more and a commit costs no enter of its own
  // (at iodepth 1 the per-tag path's one enter a request). The kernel
  // takes a commit in part only for an element it refuses (a tag it does
  // not hold for us); the rest then goes out with the next pass.
  const unsigned commit_cqes =
      config_.batch && FlushCommits() && fetch_error_ == 0 ? 1 : 0;
  if (poll_ring_) polled_in_flight_ += context_->TakePolledSubmitted();
  if (polled_in_flight_ == 0) {
    // Nothing to poll for: sleep until the kernel hands us something,
    // with --poll-us after a spin that found nothing.
    const int spun = spin_.ShouldSpin() ? Spin(r, commit_cqes) : 0;
    if (spun < 0) return false;
    if (spun == 0) {
      const uint64_t slept_ns = spin_.budget_ns() ? MonotonicNs() : 0;
      if (!Entered(io_uring_submit_and_wait(r, 1 + commit_cqes), config_, ""))
        return false;
      if (slept_ns) spin_.SleepEnded(slept_ns, MonotonicNs());
    }
    pass_ns_ = 0;
    Reap(r);
    if (finished_count_ != 0) RecordFinished(MonotonicNs());
    return true;
  }
  // Backend I/O in flight on the polled ring: submit what was queued there
  // and poll once (GETEVENTS with no minimum completes what the poll
  // queues have and returns), then submit to the ublk ring and run its
  // deferred work without waiting, so new requests and the commits keep
  // moving while we poll.
  ++polling_passes_;
  io_uring* p = poll_ring_->get();
  if (!Entered(io_uring_submit_and_get_events(p), config_,
               " on the polled ring"))
    return false;
  pass_ns_ = 0;
  const unsigned polled = Reap(p);
  polled_in_flight_ -= polled;
  polled_completions_ += polled;
  if (!Entered(io_uring_submit_and_get_events(r), config_, "")) return false;
  Reap(r);
  if (finished_count_ != 0) RecordFinished(MonotonicNs());
  return true;
}

int Queue::Spin(io_uring* r, unsigned besides) noexcept {
  const uint64_t start_ns = MonotonicNs();
  // With DEFER_TASKRUN the kernel's dispatch and the backend's completions
  // run only inside io_uring_enter(GETEVENTS). Where the ring has
  // TASKRUN_FLAG the kernel marks the SQ ring's flags when such work waits,
  // so the spin reads memory and enters only then (or to submit); without
  // it every turn enters.
  const bool flagged = (r->flags & IORING_SETUP_TASKRUN_FLAG) != 0;
  bool found = false;
  do {
    if (!flagged || io_uring_sq_ready(r) != 0 ||
        (IO_URING_READ_ONCE(*r->sq.kflags) & IORING_SQ_TASKRUN) != 0) {
      if (!Entered(io_uring_submit_and_get_events(r), config_, "")) return -1;
    }
    found = io_uring_cq_ready(r) > besides;
  } while (!found && spin_.KeepSpinning(start_ns, MonotonicNs()));
  spin_.SpinEnded(found);
  ++(found ? spins_found_ : spins_idle_);
  return found ? 1 : 0;
}

void Queue::NoteFinished(uint16_t tag, int result) noexcept {
  // A tag cannot finish twice in a pass (its next request needs the
  // commit submitted first) unless a full SQ made NextSqe submit early:
  // then record what is there now.
  if (finished_count_ == finished_.size()) RecordFinished(MonotonicNs());
  const Request& req = requests_[tag];
  finished_[finished_count_++] = {tag, metrics::OpOf(req.op), result,
                                  req.length};
}

void Queue::RecordFinished(uint64_t now_ns) noexcept {
  metrics::QueueBlock& m = *config_.metrics;
  for (size_t i = 0; i < finished_count_; ++i) {
    const Finished& f = finished_[i];
    metrics::OpCounters& op = m.ops[f.op];
    Count(op.requests, 1);
    if (f.result < 0) {
      Count(op.errors, 1);
      const unsigned e = static_cast<unsigned>(-f.result);
      Count(m.errnos[e < metrics::kErrnoSlots ? e : 0], 1);
    } else {
      Count(op.bytes, f.bytes);
    }
    const uint64_t reaped = reaped_ns_[f.tag];
    const uint64_t ns = now_ns > reaped ? now_ns - reaped : 0;
    Count(op.latency_ns, ns);
    Count(op.buckets[metrics::BucketOf(ns)], 1);
  }
  // Last, so a reader never sees more finished than counted.
  Count(m.finished, finished_count_);
  finished_count_ = 0;
}

unsigned Queue::Reap(io_uring* ring) noexcept {
  unsigned head;
  unsigned seen = 0;
  io_uring_cqe* cqe;
  io_uring_for_each_cqe(ring, head, cqe) {
    HandleCqe(cqe);
    ++seen;
  }
  io_uring_cq_advance(ring, seen);
  return seen;
}

void Queue::HandleCqe(const io_uring_cqe* cqe) noexcept {
  UserData ud = DecodeUserData(cqe->user_data);
  switch (ud.op) {
    case UserOp::kFetch:
      OnFetchDone(ud.tag, cqe->res);
      return;
    case UserOp::kTarget: {
      const void* big =
          config_.ring_needs.big_cqe ? static_cast<const void*>(cqe->big_cqe)
                                     : nullptr;
      OnTargetDone(ud.tag, Completion{cqe->res, ud.target_data, big});
      return;
    }
    case UserOp::kTargetQueue:
      target_queue_->CompleteQueueOp(*context_,
                                     Completion{cqe->res, ud.target_data, nullptr});
      return;
    case UserOp::kStopEvent:
      stop_requested_ = true;
      return;
    case UserOp::kBufCmd:
      // Only failures post (CQE_SKIP_SUCCESS). A failed register cancels
      // the linked I/O, which fails the request through the target.
      ledger_.NoteUnexpected();
      return;
    case UserOp::kCopy:
      OnCopyDone(ud.tag, ud.target_data, cqe->res);
      return;
    case UserOp::kBatchFetch:
      OnBatchFetch(cqe);
      return;
    case UserOp::kBatchCommit:
      OnBatchCommit(static_cast<uint8_t>(ud.target_data), cqe->res);
      return;
  }
}

void Queue::OnFetchDone(uint16_t tag, int res) noexcept {
  if (tag < chains_.size() && chains_[tag].copy_out_linked) {
    chains_[tag].copy_out_linked = false;
    if (res == -ECANCELED) {
      // The READ's write to /dev/ublkcN failed, which cancelled the linked
      // commit: commit again, as the request's failure. The tag stays
      // parked.
      if (!QueueIoCmd(abi::kIoCommitAndFetchReq, tag, -EIO))
        (void)ledger_.Abort(tag, /*expected=*/false);
      return;
    }
  }
  if (res == abi::kIoResNeedGetData) {
    // The kernel wants the WRITE's buffer before it copies the data in; the
    // answer completes like a fetch, with the request ready. Only a broken
    // ring fails to queue it; the kernel aborts the tag on ring exit.
    if (ledger_.Repark(tag) && !QueueIoCmd(abi::kIoNeedGetData, tag, 0))
      (void)ledger_.Abort(tag, /*expected=*/false);
    return;
  }
  if (res != abi::kIoResOk) {
    // -ENODEV: cancelled by stop/delete/ring exit. Anything else means the
    // command was refused; either way the kernel no longer holds this tag.
    (void)ledger_.Abort(tag, /*expected=*/res == -ENODEV);
    return;
  }
  OnRequest(tag);
}

void Queue::OnRequest(uint16_t tag) noexcept {
  if (!ledger_.Deliver(tag)) return;
  if (config_.metrics != nullptr) {
    // The clock is read once a pass, by its first new request.
    if (pass_ns_ == 0) pass_ns_ = MonotonicNs();
    reaped_ns_[tag] = pass_ns_;
    Count(config_.metrics->started, 1);
  }

  const auto* desc = static_cast<const abi::IoDesc*>(descs_.data()) + tag;
  Request& req = requests_[tag];
  CheckedIo io;
  // Never trust the descriptor with memory: a request that does not fit the
  // buffer or the device fails instead of reaching the target.
  const int bad = CheckIoDesc(
      *desc, {.dev_bytes = config_.dev_bytes->load(std::memory_order_relaxed), .max_io_bytes = config_.max_io_bytes},
      &io);
  req.op = io.op;
  req.op_flags = io.op_flags;
  req.offset = io.offset;
  req.length = io.length;
  ++requests_served_;
  UBLK_TRACE("dev {} q {} tag {} op {} off {} len {}", config_.dev_id,
             config_.id, tag, req.op, req.offset, req.length);
  if (bad != 0) {
    ++rejected_;
    Finish(tag, bad);
    return;
  }
  const bool has_data = OpHasData(req.op);
  if (has_data && (req.op_flags & abi::kIoFShmemZc) && !UseShmem(tag, *desc)) {
    ++rejected_;
    Finish(tag, -EIO);
    return;
  }
  // By hand: every request with a buffer in explicit mode (a zoned
  // device's REPORT_ZONES too), and in auto mode one whose automatic
  // registration failed (NEED_REG_BUF).
  chains_[tag].by_hand =
      (has_data || req.op == abi::kOpReportZones) &&
      (config_.data_path == DataPath::kExplicitReg ||
       (req.op_flags & abi::kIoFNeedRegBuf));
  if (chains_[tag].by_hand) ++registered_by_hand_;
  chains_[tag].copies_in_pending = 0;
  chains_[tag].copy_failed = chains_[tag].finish_waiting = false;
  // Only a request the block layer gave integrity data has any to move.
  req.meta_len = meta_buffers_.valid() && has_data &&
                         (req.op_flags & abi::kIoFIntegrity)
                     ? MetaBytes(req.length)
                     : 0;
  // A WRITE's integrity data registered by hand comes in before the call
  // (the chain's register and unregister cannot follow a copy that may
  // fail): a read from /dev/ublkcN, a copy out of the request's integrity
  // buffer that does not wait on any device.
  if (req.meta_len != 0 && chains_[tag].by_hand && req.op == abi::kOpWrite &&
      !ReadMetaNow(tag)) {
    ++copy_failures_;
    Finish(tag, -EIO);
    return;
  }
  BeginTargetCall(tag, /*first=*/true);
  IoStatus st = target_queue_->Queue(*context_, req);
  EndTargetCall();
  if (!st.pending()) {
    chains_[tag].append_sector = st.append_sector();
    Finish(tag, st.result());
  }
}

bool Queue::ReadMetaNow(uint16_t tag) noexcept {
  const Request& req = requests_[tag];
  const ssize_t n =
      ::pread(config_.char_fd, reinterpret_cast<void*>(req.meta_addr),
              req.meta_len, static_cast<off_t>(abi::UserCopyIntegrityOffset(
                                config_.id, tag, 0)));
  return n == static_cast<ssize_t>(req.meta_len);
}

bool Queue::UseShmem(uint16_t tag, const abi::IoDesc& desc) noexcept {
  // The kernel found the request's pages in the shared memory: the data is
  // already there (a WRITE's) or goes straight there (a READ's), and the
  // kernel copies nothing. Never trust the index and offset with memory.
  if (config_.shmem == nullptr) return false;
  const uint64_t addr = desc.addr;
  char* p = config_.shmem->Resolve(abi::ShmemZcIndex(addr),
                                   abi::ShmemZcOffset(addr),
                                   requests_[tag].length);
  if (p == nullptr) return false;
  requests_[tag].buf_addr = reinterpret_cast<uintptr_t>(p);
  requests_[tag].buf_index = config_.depth;
  ++shmem_served_;
  return true;
}

void Queue::UseTagBuffer(uint16_t tag) noexcept {
  requests_[tag].buf_index = tag;
  // Zero copy leaves it 0: the address field is then an offset into the
  // request's own pages.
  if (buffers_.valid())
    requests_[tag].buf_addr = reinterpret_cast<uintptr_t>(
        static_cast<char*>(buffers_.data()) + size_t{tag} * config_.max_io_bytes);
  if (meta_buffers_.valid())
    requests_[tag].meta_addr = reinterpret_cast<uintptr_t>(
        static_cast<char*>(meta_buffers_.data()) +
        size_t{tag} * MetaBytes(config_.max_io_bytes));
}

void Queue::BeginTargetCall(uint16_t tag, bool first) noexcept {
  TagChain& c = chains_[tag];
  const Request& req = requests_[tag];
  const bool user_copy = config_.data_path == DataPath::kUserCopy;
  if (first && (req.op == abi::kOpWrite || req.op == abi::kOpZoneAppend) &&
      ((user_copy && req.length != 0) || (req.meta_len != 0 && !c.by_hand))) {
    // Sent only with the target's first SQE (a target that finishes at
    // once needs no data); later calls find the data in the buffer. With
    // zero copy only the integrity data is copied.
    context_->BeginCopyIn(tag, reinterpret_cast<void*>(req.buf_addr),
                          user_copy ? req.length : 0,
                          abi::UserCopyOffset(config_.id, tag, 0),
                          reinterpret_cast<void*>(req.meta_addr), req.meta_len,
                          abi::UserCopyIntegrityOffset(config_.id, tag, 0));
    return;
  }
  if (!c.by_hand) {
    context_->BeginIo(tag);
    return;
  }
  c.second_slot = !c.second_slot;
  const uint16_t slot = static_cast<uint16_t>(
      config_.depth * (c.second_slot ? 2u : 1u) + tag);
  requests_[tag].buf_index = slot;
  context_->BeginChain(tag, slot);
}

void Queue::EndTargetCall() noexcept {
  if (unsigned n = context_->CopiesInSent())
    chains_[context_->call_tag()].copies_in_pending = static_cast<uint8_t>(n);
  context_->EndIo();
}

void Queue::OnCopyDone(uint16_t tag, uint16_t kind, int res) noexcept {
  if (tag >= chains_.size()) {
    ledger_.NoteUnexpected();
    return;
  }
  TagChain& c = chains_[tag];
  const bool meta = kind == kCopyMetaIn || kind == kCopyMetaOut;
  const uint32_t want = meta ? requests_[tag].meta_len : requests_[tag].length;
  const bool failed = res < 0 || static_cast<uint32_t>(res) != want;
  if (kind == kCopyDataOut || kind == kCopyMetaOut) {
    if (failed) ++copy_failures_;
    // The commit linked behind it tells the kernel (see OnFetchDone);
    // in batch mode the tag joins the next batch once its writes are back.
    if (!config_.batch) return;
    if (c.copies_out_pending == 0) {
      ledger_.NoteUnexpected();
      return;
    }
    if (failed) c.copy_failed = true;
    if (--c.copies_out_pending != 0) return;
    const int result = c.copy_failed ? -EIO : c.finish_result;
    c.copy_failed = false;
    if (!QueueCommit(tag, result)) (void)ledger_.Abort(tag, /*expected=*/false);
    return;
  }
  if (c.copies_in_pending == 0 ||
      ledger_.state(tag) != TagLedger::State::kInTarget) {
    ledger_.NoteUnexpected();
    return;
  }
  --c.copies_in_pending;
  // A short read or an error is the request's error; the linked backend
  // write was cancelled with it.
  if (failed) {
    c.copy_failed = true;
    ++copy_failures_;
  }
  if (c.copies_in_pending == 0 && c.finish_waiting) {
    c.finish_waiting = false;
    Finish(tag, c.finish_result);
  }
}

void Queue::OnTargetDone(uint16_t tag, const Completion& c) noexcept {
  if (!ledger_.AcceptTargetCompletion(tag)) return;
  BeginTargetCall(tag, /*first=*/false);
  IoStatus st = target_queue_->Complete(*context_, requests_[tag], c);
  EndTargetCall();
  if (!st.pending()) {
    chains_[tag].append_sector = st.append_sector();
    Finish(tag, st.result());
  }
}

void Queue::FinishFromTarget(void* self, uint16_t tag, int result) noexcept {
  auto* q = static_cast<Queue*>(self);
  // Only a tag the target holds: anything else is the target's mistake.
  if (tag >= q->chains_.size() ||
      q->ledger_.state(tag) != TagLedger::State::kInTarget) {
    q->ledger_.NoteUnexpected();
    return;
  }
  q->Finish(tag, result);
}

void Queue::Finish(uint16_t tag, int result) noexcept {
  TagChain& c = chains_[tag];
  if (c.copies_in_pending != 0) {
    // A read from /dev/ublkcN has not come back yet (the linked write
    // was cancelled and reported first): commit once it has.
    c.finish_waiting = true;
    c.finish_result = result;
    return;
  }
  if (c.copy_failed) result = -EIO;
  if (!ledger_.Park(tag)) return;
  if (config_.metrics != nullptr) NoteFinished(tag, result);
  c.by_hand = false;
  // The commit hands the kernel the per-tag buffer for the next request,
  // whatever this one used.
  UseTagBuffer(tag);
  const uint8_t op = requests_[tag].op;
  const bool copy_out =
      result > 0 &&
      ((config_.data_path == DataPath::kUserCopy &&
        (op == abi::kOpRead || op == abi::kOpReportZones)) ||
       (op == abi::kOpRead && requests_[tag].meta_len != 0));
  if (copy_out ? !QueueCopyOutAndCommit(tag, result)
               : !QueueCommit(tag, result)) {
    // Only a broken ring gets here; the kernel aborts the tag on ring exit.
    (void)ledger_.Abort(tag, /*expected=*/false);
  }
}

bool Queue::QueueCopyOutAndCommit(uint16_t tag, int result) noexcept {
  // The writes and the commit linked behind them go in one submission: a
  // link never spans two.
  io_uring* r = ring_->get();
  Request& req = requests_[tag];
  // The lengths the copies must reach, for OnCopyDone.
  req.length = static_cast<uint32_t>(result);
  if (req.meta_len != 0) req.meta_len = MetaBytes(req.length);
  const bool data = config_.data_path == DataPath::kUserCopy;
  const unsigned room = 1u + (data ? 1u : 0u) + (req.meta_len != 0 ? 1u : 0u);
  if (io_uring_sq_space_left(r) < room && io_uring_submit(r) < 0) return false;
  // Not CQE_SKIP_SUCCESS: a failure would then hide the cancelled commit's
  // completion too.
  auto copy_out = [&](const void* buf, uint32_t len, uint64_t off,
                      uint16_t kind) {
    io_uring_sqe* sqe = io_uring_get_sqe(r);
    if (sqe == nullptr) return false;
    std::memset(sqe, 0, config_.ring_needs.big_sqe ? 128 : 64);
    io_uring_prep_write(sqe, kCharFileSlot, buf, len, off);
    // Batch mode commits from OnCopyDone, so nothing is linked.
    sqe->flags |= IOSQE_FIXED_FILE | (config_.batch ? 0 : IOSQE_IO_LINK);
    sqe->user_data = EncodeUserData({tag, UserOp::kCopy, kind, config_.id});
    return true;
  };
  // With zero copy the data is in the request's pages already.
  if (data && !copy_out(reinterpret_cast<const void*>(req.buf_addr), req.length,
                        abi::UserCopyOffset(config_.id, tag, 0), kCopyDataOut))
    return false;
  // The integrity data the controller returned, for the block layer to
  // verify when the request completes.
  if (req.meta_len != 0 &&
      !copy_out(reinterpret_cast<const void*>(req.meta_addr), req.meta_len,
                abi::UserCopyIntegrityOffset(config_.id, tag, 0),
                kCopyMetaOut))
    return false;
  if (config_.batch) {
    chains_[tag].copies_out_pending = static_cast<uint8_t>(room - 1);
    chains_[tag].finish_result = result;
    return true;
  }
  chains_[tag].copy_out_linked = true;
  if (QueueIoCmd(abi::kIoCommitAndFetchReq, tag, result)) return true;
  // No SQE for the commit (cannot happen: room was made): the dangling link
  // ends at the submission; the kernel aborts the tag on ring exit.
  chains_[tag].copy_out_linked = false;
  return false;
}

}  // namespace ublk

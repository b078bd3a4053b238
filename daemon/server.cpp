#include "server.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <future>
#include <thread>
#include <vector>

#include "backing_file.h"
#include "backing_in_use.h"
#include "device.h"
#include "feature_flags.h"
#include "json_fields.h"
#include "metrics_file.h"
#include "metrics_sample.h"
#include "params.h"
#include "queue.h"
#include "recovery.h"
#include "registry.h"
#include "shmem_region.h"
#include "state_file.h"
#include "thread_plan.h"
#include "unprivileged.h"
#include "ublk/log.h"
#include "wait.h"

namespace ublk {
namespace {

// How often --metrics-file is rewritten.
constexpr int kTextfileEveryMs = 10000;

// --stall-before-start / --stall-before-stop (testing options): sleep at a
// point where a test kills the server, to make that race certain.
void StallForTest(const char* option, uint32_t seconds) {
  if (seconds == 0) return;
  log::Warn("{}: stalling {} s", option, seconds);
  timespec ts{static_cast<time_t>(seconds), 0};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

// "/dev/ng0n1 has 8 bytes of metadata per block (T10-DIF-TYPE1-CRC)".
std::string IntegrityWhat(const std::string& file, const DeviceGeometry& g) {
  return file + " has " + std::to_string(g.integrity.metadata_size) +
         " bytes of metadata per block (" + IntegrityFormatName(g.integrity) +
         ")";
}

void WriteLine(int fd, const nlohmann::json& j) {
  if (fd < 0) return;
  std::string line = DumpJson(j) + "\n";
  (void)!::write(fd, line.data(), line.size());
}

// Everything one running device holds, declared in acquisition order so that
// destruction (queues first, then the device) undoes it in reverse.
class Server {
 public:
  Server(const DeviceSpec& spec, const ServerOptions& options)
      : spec_(spec), options_(options) {}
  // A server that fails or throws after START_DEV stops its device before
  // the queues go, so in-flight I/O completes or fails instead of waiting
  // for a server that is gone; then ~Device deletes it (if it is ours).
  ~Server() {
    if (started_ && !stopped_ && device_) (void)control_->StopDev(device_->id());
    StopQueues();
    // Whether it failed to start, stopped or handed over, its counts end
    // here; a server that crashed leaves its file for `ublk recover`.
    if (metrics_) {
      ::unlink(MetricsPath(StateDir(), metrics_->header().dev_id).c_str());
      if (!spec_.metrics_textfile.empty())
        ::unlink(spec_.metrics_textfile.c_str());
    }
  }

  Result<void> Start();
  // What ended the wait: a stop, or a request to hand the device over.
  enum class Wake { kStop, kHandOver, kResize };
  Wake WaitForStop();
  // Writes the state file again when the target's connection changed.
  void RefreshConnectionState();
  void Stop();
  // Parks the device for the next server; on failure keeps serving.
  Result<void> HandOver();
  Result<void> Resize(uint64_t bytes);
  // Resize(resize_to_), answered in the answer file.
  void AnswerResize();
  nlohmann::json Report() const;

 private:
  void StopQueues();
  Result<void> AddDevice();
  Result<void> TakeOver(DataAccess access);
  Result<void> StartQueues();
  void SendDevId(uint32_t id) const;
  Result<void> WriteMetricsTextfile() const;

  DeviceSpec spec_;
  ServerOptions options_;
  Fd signal_fd_;
  Fd queue_exit_fd_;
  std::unique_ptr<Target> target_;
  std::optional<ControlDevice> control_;
  std::optional<Device> device_;
  DataPath data_path_ = DataPath::kCopy;
  uint64_t size_bytes_ = 0;
  std::atomic<uint64_t> dev_bytes_{0};  // size_bytes_, as the queues see it
  uint64_t resize_to_ = 0;              // what the last SIGUSR1 asked for
  DeviceState state_;                   // as written to the state file
  std::optional<BackingIdentity> backing_;
  std::vector<std::string> notes_;  // the target's, for the report
  std::unique_ptr<ShmemRegion> shmem_;  // --htlb; outlives the queues
  std::optional<MetricsFile> metrics_;  // outlives the queues
  std::vector<std::unique_ptr<Queue>> queues_;
  std::vector<std::jthread> threads_;
  bool started_ = false;  // START_DEV (or END_USER_RECOVERY) succeeded
  // No CAP_SYS_ADMIN: the device is made UNPRIVILEGED_DEV, this user's.
  bool unprivileged_ = false;
  bool stopped_ = false;  // Stop() sent STOP_DEV
};

Result<void> Server::Start() {
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGHUP);
  sigaddset(&mask, SIGUSR2);
  sigaddset(&mask, SIGUSR1);
  // Blocked before any thread starts, so only the signalfd sees them.
  pthread_sigmask(SIG_BLOCK, &mask, nullptr);
  // A write to a socket whose peer is gone fails with EPIPE, which the
  // target handles; the signal that comes with it must not end us.
  (void)::signal(SIGPIPE, SIG_IGN);
  signal_fd_ = Fd(signalfd(-1, &mask, SFD_CLOEXEC));
  queue_exit_fd_ = Fd(eventfd(0, EFD_CLOEXEC));
  if (!signal_fd_.valid() || !queue_exit_fd_.valid())
    return SysError(errno, "creating the server's event descriptors");

  const TargetType* type = FindTargetType(spec_.type);
  if (type == nullptr) return Invalid("unknown target type '" + spec_.type + "'");
  // Asked before the target opens the store, so the refusal names the other
  // device (a block device's exclusive open would only say "in use").
  const bool has_path = !spec_.file.empty() && !type->file_is_address;
  if (has_path) UBLK_RETURN_IF_ERROR(CheckNotInUse(spec_.file, spec_.id));
  auto target = type->create(spec_);
  if (!target) return target.error();
  target_ = std::move(*target);
  notes_ = target_->notes();
  for (const std::string& note : notes_) log::Warn("{}", note);
  size_bytes_ = target_->Geometry().size_bytes;
  dev_bytes_.store(size_bytes_, std::memory_order_relaxed);

  // Identify the backing store now, while the target holds it open, so the
  // state file can later prove that its path still names this file.
  if (has_path) {
    auto backing = IdentifyBackingFile(spec_.file);
    if (!backing) return backing.error();
    backing_ = *backing;
  }
  // Refuse an unsafe state directory before anything exists in the kernel.
  // A user's own is made by udev with the device's node (state_file.h), and
  // checked once the node is ours.
  unprivileged_ = !HasCapSysAdmin();
  if (::geteuid() == 0) UBLK_RETURN_IF_ERROR(PrepareStateDir(StateDir()));
  if (spec_.shmem_zc && !spec_.shmem_file.empty() && !options_.recover) {
    auto shmem = ShmemRegion::Open(spec_.shmem_file);
    if (!shmem) return shmem.error();
    shmem_ = std::move(*shmem);
  }

  auto control = ControlDevice::Open();
  if (!control) return control.error();
  control_.emplace(std::move(*control));

  if (options_.recover)
    UBLK_RETURN_IF_ERROR(TakeOver(type->data_access));
  else
    UBLK_RETURN_IF_ERROR(AddDevice());
  const abi::DevInfo& info = device_->info();
  UBLK_RETURN_IF_ERROR(device_->OpenCharDev(Millis(10000)));
  if (::geteuid() != 0)
    if (auto dir = CheckStateDir(StateDir()); !dir)
      return dir.error().Wrap("the state directory of uid " +
                              std::to_string(::geteuid()) +
                              " (ublk-udev-owner makes it with the device)");
  UBLK_RETURN_IF_ERROR(StartQueues());
  // Once before the device starts, so a path that cannot be written fails
  // the add.
  UBLK_RETURN_IF_ERROR(WriteMetricsTextfile());
  if (shmem_) {
    // Before START_DEV, so the index is known before any request arrives.
    auto index = control_->RegBuf(info.dev_id, shmem_->base(), shmem_->size());
    if (!index)
      return index.error().Wrap("registering the shared memory (--htlb " +
                                shmem_->path() + ")");
    shmem_->set_index(*index);
    log::Info("dev {}: shared memory {} ({} bytes) registered as buffer {}",
              info.dev_id, shmem_->path(), shmem_->size(), *index);
  }

  if (options_.recover) {
    UBLK_RETURN_IF_ERROR(control_->EndUserRecovery(info.dev_id, getpid()));
    device_->Own();
    log::Info("dev {}: recovered, {} live again", info.dev_id,
              device_->block_path());
  } else {
    StallForTest("--stall-before-start", spec_.testing.stall_before_start_s);
    UBLK_RETURN_IF_ERROR(control_->StartDev(info.dev_id, getpid()));
    log::Info("dev {}: started, {} live", info.dev_id, device_->block_path());
  }
  started_ = true;

  DeviceState& state = state_;
  state.spec = spec_;
  state.spec.id = info.dev_id;
  state.dev_id = info.dev_id;
  state.pid = getpid();
  state.flags = info.flags;
  state.data_path = DataPathName(data_path_);
  state.queues = info.nr_hw_queues;
  state.depth = info.queue_depth;
  state.size_bytes = size_bytes_;
  state.zone_capacity_bytes =
      uint64_t{target_->Geometry().zoned.capacity_sectors} << 9;
  for (const auto& q : queues_) state.queue_tids.push_back(q->tid());
  state.backing = backing_;
  state.connection = target_->connection_state();
  auto written = WriteState(StateDir(), state);
  if (!written) {
    // Without its state file a recovery device could never be recovered:
    // refuse to report it as added (the device is deleted on the way out).
    // A device being recovered keeps the file its last server wrote.
    if (spec_.recovery != Recovery::kOff && !options_.recover)
      return written.error().Wrap("cannot keep a recovery device without its "
                                  "state file");
    log::Warn("dev {}: {}", info.dev_id, written.error().message());
  }
  // `add` returns once the owner can open the disk. After the state file:
  // udev's event for the disk looks for it (ublk-udev-name) before it
  // applies the owner.
  if (info.flags & abi::kFUnprivilegedDev)
    return WaitForOwner(device_->block_path(), info.owner_uid, Millis(20000));
  return {};
}

void Server::RefreshConnectionState() {
  std::string now = target_->connection_state();
  if (now == state_.connection) return;
  log::Info("dev {}: connection {}", device_->id(), now);
  state_.connection = std::move(now);
  if (auto written = WriteState(StateDir(), state_); !written)
    log::Warn("dev {}: {}", device_->id(), written.error().message());
}

void Server::SendDevId(uint32_t id) const {
  if (options_.devid_fd >= 0) (void)!::write(options_.devid_fd, &id, sizeof(id));
}

Result<void> Server::AddDevice() {
  const DeviceGeometry geometry = target_->Geometry();
  if (geometry.zoned.zone_sectors != 0 && geometry.integrity.metadata_size != 0)
    return Invalid(IntegrityWhat(spec_.file, geometry) +
                   " and is zoned: zoned namespaces with metadata are not "
                   "served");
  // Unprivileged: what the kernel refuses is refused here, with the reason,
  // and the choice below sees only what such a device may have.
  const bool has_path = !spec_.file.empty() &&
                        !FindTargetType(spec_.type)->file_is_address;
  if (unprivileged_)
    UBLK_RETURN_IF_ERROR(
        CheckUnprivilegedSpec(control_->features(), spec_, has_path));
  const uint64_t kernel = unprivileged_
                              ? UnprivilegedFeatures(control_->features())
                              : control_->features();
  // A polled backend needs the per-tag buffers on both of a queue's rings:
  // copy mode where zero copy would be the default (the target refused an
  // explicit -z).
  DeviceSpec wanted_spec = spec_;
  if (target_->ring_needs().polled && wanted_spec.zero_copy == ZeroCopy::kBest)
    wanted_spec.zero_copy = ZeroCopy::kOff;
  const bool zoned = geometry.zoned.zone_sectors != 0;
  const bool integrity = geometry.integrity.metadata_size != 0;
  const std::string what = zoned ? spec_.file + " is a zoned namespace"
                           : integrity ? IntegrityWhat(spec_.file, geometry)
                                       : spec_.file;
  auto choice = zoned       ? ChooseZonedFlags(kernel, spec_, what)
                : integrity ? ChooseIntegrityFlags(kernel, spec_, what)
                            : ChooseFlags(kernel, target_->data_access(),
                                          wanted_spec);
  if (!choice) return choice.error();
  if (unprivileged_) {
    UBLK_RETURN_IF_ERROR(CheckUnprivilegedFlags(choice->flags, what));
    choice->flags |= abi::kFUnprivilegedDev;
  }
  auto recovery = RecoveryFlags(kernel, spec_.recovery);
  if (!recovery) return recovery.error();
  UBLK_RETURN_IF_ERROR(CheckRecoveryDataPath(spec_.recovery, spec_.zero_copy));
  auto batch = BatchFlags(control_->features(), spec_);
  if (!batch) return batch.error();
  UBLK_RETURN_IF_ERROR(CheckThreads(
      kernel, spec_, FindTargetType(spec_.type)->one_thread_per_queue,
      PossibleCpus()));
  data_path_ = choice->data_path;
  abi::DevInfo wanted{};
  wanted.nr_hw_queues = spec_.queues;
  wanted.queue_depth = spec_.depth;
  wanted.max_io_buf_bytes = spec_.max_io_bytes;
  if (geometry.max_io_bytes != 0 && geometry.max_io_bytes < spec_.max_io_bytes)
    wanted.max_io_buf_bytes = geometry.max_io_bytes;
  wanted.dev_id = spec_.id.value_or(abi::kNewDevId);
  wanted.flags = choice->flags | *recovery | *batch;
  // Where the kernel has them: resizing online (`ublk resize`), and, for a
  // device that a new server can take over, handing it over without
  // failing what is in flight (`ublk restart`).
  wanted.flags |= kernel & abi::kFUpdateSize;
  if (*recovery != 0) wanted.flags |= kernel & abi::kFQuiesce;
  if (spec_.no_partition_scan) {
    if (!(kernel & abi::kFNoAutoPartScan))
      return Invalid("--no-partition-scan needs NO_AUTO_PART_SCAN (Linux 7.0 "
                     "or later), which this kernel's ublk_drv lacks");
    wanted.flags |= abi::kFNoAutoPartScan;
  }
  auto device = Device::Add(*control_, wanted);
  if (!device) return device.error();
  device_.emplace(std::move(*device));
  const abi::DevInfo& info = device_->info();
  SendDevId(info.dev_id);
  const uint64_t must_have =
      (choice->flags & (abi::kFSupportZeroCopy | abi::kFAutoBufReg |
                        abi::kFUserCopy | abi::kFNeedGetData |
                        abi::kFShmemZc | abi::kFIntegrity | abi::kFZoned)) |
      *recovery | *batch;
  if ((info.flags & must_have) != must_have)
    return Invalid("the kernel did not grant " +
                   FeatureNames(must_have & ~info.flags).front());
  if (info.nr_hw_queues != spec_.queues)
    return Invalid("the kernel allows only " +
                   std::to_string(info.nr_hw_queues) + " queues, not " +
                   std::to_string(spec_.queues));
  // An unprivileged device's commands need its node to be the owner's
  // (the kernel checks write access to it): wait for udev to give it.
  if (info.flags & abi::kFUnprivilegedDev)
    UBLK_RETURN_IF_ERROR(
        WaitForOwner(device_->char_path(), info.owner_uid, Millis(10000)));
  return control_->SetParams(
      info.dev_id, BuildParams(geometry, info.max_io_buf_bytes,
                               IsZeroCopy(data_path_)));
}

Result<void> Server::TakeOver(DataAccess access) {
  if (!spec_.id) return Invalid("recovery needs the device id");
  const uint32_t id = *spec_.id;
  auto info = control_->GetDevInfo(id);
  if (!info) return info.error();
  device_.emplace(Device::Attach(*control_, *info));
  SendDevId(id);
  if (!(info->flags & abi::kFUserRecovery))
    return Invalid("device " + std::to_string(id) +
                   " was not created with recovery (ublk add -r)");
  if (info->nr_hw_queues != spec_.queues || info->queue_depth != spec_.depth)
    return Invalid("device " + std::to_string(id) +
                   " does not match its spec (queues or depth)");
  // The device keeps its parameters; the backend must still fit them.
  auto params = control_->GetParams(id);
  if (!params) return params.error();
  if (params->basic.dev_sectors != size_bytes_ >> 9)
    return Invalid("device " + std::to_string(id) + " has " +
                   std::to_string(params->basic.dev_sectors << 9) +
                   " bytes but its backing store now gives " +
                   std::to_string(size_bytes_));
  // The device's flags say what the kernel granted it.
  UBLK_RETURN_IF_ERROR(CheckThreads(
      info->flags, spec_, FindTargetType(spec_.type)->one_thread_per_queue,
      PossibleCpus()));
  data_path_ = DataPathOfDevice(info->flags, access);
  // The dead server's /dev/ublkcN is released only once the kernel has torn
  // down its io_uring (asynchronously): EBUSY until then.
  UBLK_RETURN_IF_ERROR(PollKernelState(
      "the dead server's /dev/ublkc" + std::to_string(id) + " to be released",
      Millis(20000), Millis(100), [&]() -> Result<bool> {
        auto r = control_->StartUserRecovery(id);
        if (r) return true;
        if (r.error().code().value() == EBUSY) return false;
        return r.error();
      }));
  log::Info("dev {}: recovery started ({} queues, data path {})", id,
            info->nr_hw_queues, DataPathName(data_path_));
  return {};
}

Result<void> Server::StartQueues() {
  const abi::DevInfo& info = device_->info();
  const DeviceGeometry geometry = target_->Geometry();
  std::vector<std::future<Result<void>>> ready;
  if (spec_.metrics) {
    // Fresh after a recovery too: the dead server's counts are gone with
    // its queues (see metrics_file.h). Without one the device still
    // serves, uncounted.
    auto m = MetricsFile::Create(StateDir(), info.dev_id, info.nr_hw_queues,
                                 spec_.name);
    if (m)
      metrics_.emplace(std::move(*m));
    else
      log::Warn("dev {}: no live metrics: {}", info.dev_id,
                m.error().message());
  }
  const std::vector<ThreadShare> plan =
      PlanThreads(info.nr_hw_queues, ThreadCount(spec_, info.nr_hw_queues));
  for (uint16_t t = 0; t < plan.size(); ++t) {
    const uint16_t q = plan[t].queue;
    QueueConfig qc;
    qc.dev_id = info.dev_id;
    qc.id = q;
    qc.depth = info.queue_depth;
    qc.share = plan[t].share;
    qc.shares = plan[t].shares;
    qc.max_io_bytes = info.max_io_buf_bytes;
    qc.dev_bytes = &dev_bytes_;
    qc.char_fd = device_->char_fd();
    qc.exit_notify_fd = queue_exit_fd_.get();
    qc.data_path = data_path_;
    // A recovered device keeps the mode it was created in.
    qc.batch = info.flags & abi::kFBatchIo;
    qc.zoned = info.flags & abi::kFZoned;
    qc.ring_needs = target_->ring_needs();
    qc.register_buffers = target_->data_access() == DataAccess::kBuffer;
    qc.auto_buf_fallback = target_->data_access() == DataAccess::kBuffer;
    qc.occupy_auto_slots = spec_.testing.force_auto_fallback;
    qc.shmem = shmem_.get();
    if (metrics_) qc.metrics = metrics_->queue(q);
    qc.poll_us = spec_.poll_us;
    if (info.flags & abi::kFIntegrity) {
      qc.metadata_size = geometry.integrity.metadata_size;
      qc.block_shift = geometry.logical_bs_shift;
    }
    auto affinity = control_->GetQueueAffinity(info.dev_id, q);
    qc.cpus = ThreadCpus(info.dev_id, t, plan[t], spec_.cpus,
                         affinity ? *affinity : std::vector<int>{});
    queues_.push_back(std::make_unique<Queue>(std::move(qc), *target_));
    std::promise<Result<void>> promise;
    ready.push_back(promise.get_future());
    threads_.emplace_back(&Queue::Run, queues_.back().get(), std::move(promise));
  }
  for (auto& f : ready) {
    Result<void> r = f.get();
    if (!r) return r.error();
  }
  return {};
}

nlohmann::json Server::Report() const {
  const abi::DevInfo& info = device_->info();
  return {{"ok", true},
          {"dev_id", info.dev_id},
          {"block", device_->block_path()},
          {"char", device_->char_path()},
          {"type", spec_.type},
          {"queues", info.nr_hw_queues},
          {"threads", queues_.size()},
          {"depth", info.queue_depth},
          {"size", size_bytes_},
          {"max_io_bytes", info.max_io_buf_bytes},
          {"data_path", DataPathName(data_path_)},
          {"poll", target_->ring_needs().polled},
          {"batch", (info.flags & abi::kFBatchIo) != 0},
          {"integrity", IntegrityFormatName(target_->Geometry().integrity)},
          {"features", FeatureNames(info.flags)},
          {"recovery", RecoveryName(RecoveryOfDevice(info.flags))},
          {"recovered", options_.recover},
          {"notes", notes_},
          {"pid", getpid()}};
}

Server::Wake Server::WaitForStop() {
  pollfd fds[2] = {{signal_fd_.get(), POLLIN, 0},
                   {queue_exit_fd_.get(), POLLIN, 0}};
  // A target with a connection is looked at once a second, so the state
  // file (and `ublk list`) follows it; with --metrics-file that file is
  // rewritten every kTextfileEveryMs.
  const bool connection = !state_.connection.empty();
  const bool textfile = !spec_.metrics_textfile.empty();
  const int tick = connection ? 1000 : textfile ? kTextfileEveryMs : -1;
  auto textfile_due = std::chrono::steady_clock::now() +
                      std::chrono::milliseconds(kTextfileEveryMs);
  for (int n; (n = ::poll(fds, 2, tick)) <= 0;) {
    if (n < 0 && errno != EINTR) break;
    if (n != 0) continue;
    if (connection) RefreshConnectionState();
    const auto now = std::chrono::steady_clock::now();
    if (textfile && now >= textfile_due) {
      textfile_due = now + std::chrono::milliseconds(kTextfileEveryMs);
      if (auto w = WriteMetricsTextfile(); !w)
        log::Warn("dev {}: {}", device_->id(), w.error().message());
    }
  }
  if (fds[0].revents & POLLIN) {
    signalfd_siginfo si{};
    (void)!::read(signal_fd_.get(), &si, sizeof(si));
    if (si.ssi_signo == SIGUSR2) {
      log::Info("dev {}: handing over to a new server", device_->id());
      return Wake::kHandOver;
    }
    if (si.ssi_signo == SIGUSR1) {
      resize_to_ = si.ssi_ptr;
      return Wake::kResize;
    }
    log::Info("dev {}: signal {}, stopping", device_->id(), si.ssi_signo);
  } else {
    log::Warn("dev {}: a queue ended on its own, stopping", device_->id());
  }
  return Wake::kStop;
}

Result<void> Server::HandOver() {
  const abi::DevInfo& info = device_->info();
  const HandOverWay way = HandOverWayOf(info.flags);
  if (way == HandOverWay::kNone)
    return Invalid("device " + std::to_string(info.dev_id) + ": " +
                   WhyNoHandOver(info.flags));
  if (way == HandOverWay::kQuiesce) {
    // Blocks until what is in flight completes (the queues keep serving),
    // then the kernel aborts the fetches and the queues end.
    UBLK_RETURN_IF_ERROR(control_->QuiesceDev(info.dev_id, 30000));
  } else {
    // Without QUIESCE the kernel goes on sending requests while the queues
    // wind down, and winding down with I/O in flight has wedged a 6.12
    // kernel; a batch device is not quiesced (HandOverWayOf). Leaving as a
    // crashed server does (every fd closed by the kernel at once) is what
    // the recovery tests prove safe: in reissue mode whatever was not
    // committed goes to the next server, and a write sent twice writes the
    // same data.
    log::Info("dev {}: handing over as a crash would ({})", info.dev_id,
              info.flags & abi::kFBatchIo ? "batch commands"
                                          : "no QUIESCE_DEV");
    ::_exit(kExitHandedOver);
  }
  stopped_ = true;  // no STOP_DEV on the way out
  StopQueues();
  device_->Release();
  device_.reset();  // closes /dev/ublkcN; the device waits, QUIESCED
  log::Info("handed over");
  return {};
}

Result<void> Server::Resize(uint64_t bytes) {
  const abi::DevInfo& info = device_->info();
  if (!(info.flags & abi::kFUpdateSize))
    return Invalid("device " + std::to_string(info.dev_id) +
                   " was made without UPDATE_SIZE (its kernel had no Linux "
                   "6.16 ublk)");
  if (bytes == 0 || bytes % 512 != 0)
    return Invalid("the size must be a positive multiple of 512 bytes");
  UBLK_RETURN_IF_ERROR(target_->CheckResize(bytes));
  // The queues accept I/O up to the larger of the two sizes while the
  // kernel changes over; never past what the backend holds.
  const bool grow = bytes > size_bytes_;
  if (grow) dev_bytes_.store(bytes, std::memory_order_relaxed);
  auto updated = control_->UpdateSize(info.dev_id, bytes >> 9);
  if (!updated) {
    dev_bytes_.store(size_bytes_, std::memory_order_relaxed);
    return updated.error();
  }
  if (!grow) dev_bytes_.store(bytes, std::memory_order_relaxed);
  log::Info("dev {}: resized from {} to {} bytes", info.dev_id, size_bytes_,
            bytes);
  size_bytes_ = bytes;
  // A new server (recover, restart) opens the target at this size.
  spec_.size = bytes;
  state_.spec.size = bytes;
  state_.size_bytes = bytes;
  auto written = WriteState(StateDir(), state_);
  if (!written) log::Warn("dev {}: {}", info.dev_id, written.error().message());
  return {};
}

void Server::AnswerResize() {
  auto r = Resize(resize_to_);
  if (!r) log::Warn("dev {}: resize: {}", device_->id(), r.error().message());
  const std::string path = ResizeAnswerPath(StateDir(), device_->id());
  const std::string line = (r ? std::string("ok") : r.error().message()) + "\n";
  if (!ReplaceFile(path, line))
    log::Warn("dev {}: cannot answer resize in {}", device_->id(), path);
}

Result<void> Server::WriteMetricsTextfile() const {
  if (spec_.metrics_textfile.empty()) return {};
  if (!metrics_)
    return Invalid("--metrics-file " + spec_.metrics_textfile +
                   ": the server has no metrics (it could not create " +
                   MetricsPath(StateDir(), device_->id()) + ")");
  auto r = ReplaceFile(
      spec_.metrics_textfile,
      PrometheusText({TakeSample(metrics_->header(), metrics_->queue(0))}));
  if (!r) return r.error().Wrap("--metrics-file");
  return {};
}

void Server::Stop() {
  // STOP_DEV removes the disk; the queues keep serving until the kernel has
  // completed in-flight I/O and aborted the parked fetches.
  StallForTest("--stall-before-stop", spec_.testing.stall_before_stop_s);
  stopped_ = true;
  target_->Stopping();
  auto r = control_->StopDev(device_->id());
  if (!r && r.error().code().value() != ENODEV)
    log::Warn("dev {}: {}", device_->id(), r.error().message());
  StopQueues();
  RemoveState(StateDir(), device_->id());
  device_.reset();  // closes /dev/ublkcN, deletes the device
  log::Info("stopped");
}

void Server::StopQueues() {
  for (auto& q : queues_) q->RequestStop();
  threads_.clear();  // joins
  queues_.clear();
}

}  // namespace

int RunServer(const DeviceSpec& spec, const ServerOptions& options) {
  bool reported = false;
  std::string failure;
  // Nothing below is meant to throw; should anything (a library, an
  // allocation) do so anyway, unwinding ~Server takes the device down and
  // the user gets one line instead of an abort.
  try {
    Server server(spec, options);
    auto started = server.Start();
    if (!started) {
      failure = started.error().message();
    } else {
      WriteLine(options.ready_fd, server.Report());
      reported = true;
      for (Server::Wake w; (w = server.WaitForStop()) != Server::Wake::kStop;) {
        if (w == Server::Wake::kResize) {
          server.AnswerResize();
          continue;
        }
        auto handed = server.HandOver();
        if (handed) return kExitHandedOver;
        log::Error("cannot hand over: {}", handed.error().message());
      }
      server.Stop();
      return 0;
    }
  } catch (const std::exception& e) {
    failure = std::string("internal error: ") + e.what();
  } catch (...) {
    failure = "internal error: unknown exception";
  }
  log::Error("{}", failure);
  if (!reported) WriteLine(options.ready_fd, {{"ok", false}, {"error", failure}});
  return 1;
}

}  // namespace ublk

#include "loop.h"

#include <linux/falloc.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include <cerrno>
#include <string>
#include <vector>

#include "loop_io.h"
#include "loop_plan.h"
#include "loop_probe.h"
#include "ublk/abi.h"
#include "ublk/log.h"

namespace ublk {
namespace {

constexpr uint16_t Tag(LoopOp op) { return static_cast<uint16_t>(op); }

// Request counts of one queue, logged when it stops: they show in the log
// that flushes really reached fdatasync and how often short I/O resumed.
struct LoopStats {
  uint64_t reads = 0, writes = 0, flushes = 0, discards = 0, zeroes = 0;
  uint64_t resumed = 0, errors = 0;
};

class LoopQueue final : public TargetQueue {
 public:
  LoopQueue(const LoopPlan& plan, LoopIoTarget io, uint16_t queue_id,
            uint16_t depth)
      : plan_(plan), io_(io), id_(queue_id), progress_(depth) {}

  ~LoopQueue() override {
    log::Info(
        "loop queue {}: {} reads, {} writes, {} flushes (fdatasync), "
        "{} discards, {} write-zeroes, {} resumed, {} errors",
        id_, stats_.reads, stats_.writes, stats_.flushes, stats_.discards,
        stats_.zeroes, stats_.resumed, stats_.errors);
  }

  IoStatus Queue(QueueContext& q, const Request& req) noexcept override {
    switch (req.op) {
      case abi::kOpRead:
      case abi::kOpWrite:
        progress_[req.tag] = {};
        return SubmitRw(q, req);
      case abi::kOpFlush:
        return Submit(q, req, LoopOp::kFlush);
      case abi::kOpDiscard:
        if (plan_.block_discard) return Submit(q, req, LoopOp::kBlockDiscard);
        if (plan_.file_discard) return Submit(q, req, LoopOp::kPunch);
        return Fail(-EOPNOTSUPP);
      case abi::kOpWriteZeroes:
        return SubmitZeroes(q, req);
      default:
        return Fail(-EOPNOTSUPP);
    }
  }

  IoStatus Complete(QueueContext& q, const Request& req,
                    const Completion& c) noexcept override {
    switch (static_cast<LoopOp>(c.target_data)) {
      case LoopOp::kRw: {
        RwStep step = NextRwStep(req.length, c.res, progress_[req.tag]);
        if (step.resubmit) {
          ++stats_.resumed;
          return SubmitRw(q, req);
        }
        if (step.result < 0) return Fail(step.result);
        ++(req.op == abi::kOpWrite ? stats_.writes : stats_.reads);
        return IoStatus::Done(step.result);
      }
      case LoopOp::kZeroRange:
        // tmpfs and some others cannot zero a range in place; a hole reads
        // back as zeros too, so punch instead and stop trying.
        if (c.res == -EOPNOTSUPP && plan_.zero == ZeroMethod::kFileRanges) {
          zero_range_works_ = false;
          return Submit(q, req, LoopOp::kPunch);
        }
        break;
      default:
        break;
    }
    if (c.res < 0) return Fail(c.res);
    switch (req.op) {
      case abi::kOpFlush: ++stats_.flushes; break;
      case abi::kOpDiscard: ++stats_.discards; break;
      default: ++stats_.zeroes; break;
    }
    return IoStatus::Done(0);
  }

 private:
  IoStatus Fail(int err) noexcept {
    ++stats_.errors;
    return IoStatus::Done(err);
  }

  IoStatus SubmitRw(QueueContext& q, const Request& req) noexcept {
    io_uring_sqe* sqe = q.GetSqe(req.tag, Tag(LoopOp::kRw));
    // No SQE only when the ring is broken: -EIO, as nvme answers.
    if (sqe == nullptr) return Fail(-EIO);
    PrepLoopRw(sqe, io_, req, progress_[req.tag].done);
    return IoStatus::Pending();
  }

  IoStatus SubmitZeroes(QueueContext& q, const Request& req) noexcept {
    switch (plan_.zero) {
      case ZeroMethod::kBlockZeroRange:
        return Submit(q, req, LoopOp::kZeroRange);
      case ZeroMethod::kFileRanges:
        // Like the kernel's loop: NOUNMAP keeps the blocks allocated.
        if ((req.op_flags & abi::kIoFNoUnmap) && zero_range_works_)
          return Submit(q, req, LoopOp::kZeroRange);
        return Submit(q, req, LoopOp::kPunch);
      case ZeroMethod::kNone:
        break;
    }
    return Fail(-EOPNOTSUPP);
  }

  IoStatus Submit(QueueContext& q, const Request& req, LoopOp op) noexcept {
    io_uring_sqe* sqe = q.GetSqe(req.tag, Tag(op));
    if (sqe == nullptr) return Fail(-EIO);  // a broken ring, as above
    switch (op) {
      case LoopOp::kFlush:
        PrepLoopFlush(sqe, io_);
        break;
      case LoopOp::kPunch:
        PrepLoopFallocate(sqe, io_, req, FALLOC_FL_PUNCH_HOLE);
        break;
      case LoopOp::kZeroRange:
        PrepLoopFallocate(sqe, io_, req, FALLOC_FL_ZERO_RANGE);
        break;
      case LoopOp::kBlockDiscard:
        PrepLoopBlockDiscard(sqe, io_, req);
        break;
      case LoopOp::kRw:
        PrepLoopRw(sqe, io_, req, 0);
        break;
    }
    return IoStatus::Pending();
  }

  const LoopPlan& plan_;
  const LoopIoTarget io_;
  const uint16_t id_;
  std::vector<RwProgress> progress_;  // per tag, sized once at open
  bool zero_range_works_ = true;
  LoopStats stats_;
};

class LoopTarget final : public Target {
 public:
  LoopTarget(Fd fd, LoopPlan plan, std::vector<std::string> notes)
      : fd_(std::move(fd)), plan_(std::move(plan)), notes_(std::move(notes)) {}

  DeviceGeometry Geometry() const override { return plan_.geometry; }
  DataAccess data_access() const override { return DataAccess::kBuffer; }
  std::vector<std::string> notes() const override { return notes_; }

  // The backing store as it is now (grown with truncate or lvextend).
  Result<void> CheckResize(uint64_t bytes) const override {
    const uint64_t block = 1ull << plan_.geometry.logical_bs_shift;
    if (bytes % block != 0)
      return Invalid("the size must be a multiple of the device's " +
                     std::to_string(block) + "-byte blocks");
    struct stat st;
    if (::fstat(fd_.get(), &st) != 0) return SysError(errno, "fstat");
    uint64_t store = static_cast<uint64_t>(st.st_size);
    if (S_ISBLK(st.st_mode) && ::ioctl(fd_.get(), BLKGETSIZE64, &store) != 0)
      return SysError(errno, "BLKGETSIZE64");
    const uint64_t room = store > plan_.offset ? store - plan_.offset : 0;
    if (bytes > room)
      return Invalid("the backing store holds " + std::to_string(room) +
                     " bytes past its offset; grow it first (truncate -s, "
                     "lvextend)");
    return {};
  }

  Result<std::unique_ptr<TargetQueue>> OpenQueue(QueueContext& q) override {
    auto slot = q.AddFile(fd_.get());
    if (!slot) return slot.error();
    return std::unique_ptr<TargetQueue>(new LoopQueue(
        plan_, LoopIoTarget{*slot, plan_.offset}, q.id(), q.depth()));
  }

 private:
  Fd fd_;
  LoopPlan plan_;
  std::vector<std::string> notes_;
};

}  // namespace

Result<std::unique_ptr<Target>> CreateLoopTarget(const DeviceSpec& spec) {
  const std::string& path = spec.file;
  const LoopOptions options = LoopOptionsOf(spec);
  auto backing = OpenBacking(path, options.read_only);
  if (!backing) return backing.error();
  auto plan = PlanLoop(options, backing->facts, path);
  if (!plan) return plan.error();
  if (plan->direct) {
    auto direct = SetDirect(backing->fd.get(), true);
    if (!direct) return direct.error().Wrap(path);
  }
  std::vector<std::string> notes;
  if (!backing->read_only_reason.empty())
    notes.push_back(path + ": read-only device (" + backing->read_only_reason +
                    " when opening for writing)");
  if (!plan->direct) {
    if (options.buffered)
      log::Info("{}: buffered I/O (--buffered)", path);
    else
      notes.push_back(path + ": buffered I/O instead of O_DIRECT: " +
                      plan->buffered_reason);
  }
  return std::unique_ptr<Target>(new LoopTarget(
      std::move(backing->fd), std::move(*plan), std::move(notes)));
}

}  // namespace ublk

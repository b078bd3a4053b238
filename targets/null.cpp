#include "null.h"

#include "ublk/abi.h"

namespace ublk {
namespace {

class NullQueue final : public TargetQueue {
 public:
  IoStatus Queue(QueueContext&, const Request& req) noexcept override {
    switch (req.op) {
      case abi::kOpRead:
      case abi::kOpWrite:
        return IoStatus::Done(static_cast<int>(req.length));
      case abi::kOpFlush:
      case abi::kOpDiscard:
      case abi::kOpWriteZeroes:
        return IoStatus::Done(0);
      default:
        return IoStatus::Done(-EOPNOTSUPP);
    }
  }
  IoStatus Complete(QueueContext&, const Request&,
                    const Completion&) noexcept override {
    return IoStatus::Done(-EIO);  // never queues backend I/O
  }
};

class NullTarget final : public Target {
 public:
  explicit NullTarget(uint64_t size) : size_(size) {}
  DeviceGeometry Geometry() const override {
    DeviceGeometry g;
    g.size_bytes = size_;
    g.discard = true;
    g.write_zeroes = true;
    return g;
  }
  DataAccess data_access() const override { return DataAccess::kNone; }
  Result<void> CheckResize(uint64_t) const override { return {}; }
  Result<std::unique_ptr<TargetQueue>> OpenQueue(QueueContext&) override {
    return std::unique_ptr<TargetQueue>(new NullQueue());
  }

 private:
  uint64_t size_;
};

}  // namespace

Result<std::unique_ptr<Target>> CreateNullTarget(const DeviceSpec& spec) {
  if (!spec.file.empty()) return Invalid("-f: not an option of the null target");
  uint64_t size = spec.size.value_or(kDefaultNullSize);
  if (size == 0 || size % 512 != 0)
    return Invalid("--size must be a positive multiple of 512 bytes");
  return std::unique_ptr<Target>(new NullTarget(size));
}

}  // namespace ublk

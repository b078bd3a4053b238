#include "device.h"

#include "ublk/log.h"
#include "wait.h"

namespace ublk {

Result<Device> Device::Add(ControlDevice& control, const abi::DevInfo& wanted) {
  auto info = control.AddDev(wanted);
  if (!info) return info.error();
  log::Info("dev {}: added ({} queues, depth {}, flags {:#x})", info->dev_id,
            info->nr_hw_queues, info->queue_depth, info->flags);
  return Device(control, *info);
}

Device Device::Attach(ControlDevice& control, const abi::DevInfo& info) {
  Device d(control, info);
  d.owned_ = false;
  return d;
}

Device::Device(Device&& o) noexcept
    : control_(o.control_),
      info_(o.info_),
      owned_(std::exchange(o.owned_, false)),
      char_fd_(std::move(o.char_fd_)) {}

Device::~Device() {
  char_fd_.reset();  // the kernel waits for the char device's last close
  if (!owned_) return;
  auto r = control_->DelDev(id());
  if (r)
    log::Info("dev {}: deleted", id());
  else if (r.error().code().value() != ENODEV)
    log::Error("dev {}: {}", id(), r.error().message());
}

Result<void> Device::OpenCharDev(Millis timeout) {
  const std::string path = char_path();
  // An unprivileged device's node is root's until udev gives it to the
  // owner (the package's rule): only then may the owner open it.
  if (info_.flags & abi::kFUnprivilegedDev)
    UBLK_RETURN_IF_ERROR(WaitForOwner(path, info_.owner_uid, timeout));
  else
    UBLK_RETURN_IF_ERROR(WaitForPath(path, timeout));
  auto fd = Fd::Open(path, O_RDWR);
  if (!fd) return fd.error();
  char_fd_ = std::move(*fd);
  return {};
}

}  // namespace ublk

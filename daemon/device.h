// Device: one kernel ublk device, from ADD_DEV until it is deleted.
//
// Owns the device (the destructor sends DEL_DEV; a device attached for
// recovery only once Own() is called) and its /dev/ublkcN descriptor. Borrows the ControlDevice,
// which must outlive it. Main thread only.
#pragma once

#include <cstdint>
#include <string>

#include "control_device.h"
#include "ublk/abi.h"
#include "ublk/fd.h"
#include "ublk/result.h"
#include "wait.h"

namespace ublk {

class Device {
 public:
  // ADD_DEV with `wanted`; the result holds the negotiated info.
  static Result<Device> Add(ControlDevice& control, const abi::DevInfo& wanted);

  // An existing device taken over for recovery (GET_DEV_INFO's info). Not
  // owned until Own(): a takeover that fails leaves the device to the next.
  static Device Attach(ControlDevice& control, const abi::DevInfo& info);

  Device(Device&& o) noexcept;
  Device& operator=(Device&&) = delete;
  Device(const Device&) = delete;
  ~Device();

  const abi::DevInfo& info() const { return info_; }
  uint32_t id() const { return info_.dev_id; }
  std::string char_path() const { return "/dev/ublkc" + std::to_string(id()); }
  std::string block_path() const { return "/dev/ublkb" + std::to_string(id()); }

  // Opens /dev/ublkcN, waiting up to `timeout` for devtmpfs (or udev) to
  // create it after ADD_DEV, and, for an unprivileged device, for udev to
  // give it to the device's owner.
  Result<void> OpenCharDev(Millis timeout);
  int char_fd() const { return char_fd_.get(); }

  // Deletes the kernel device when this object goes away (after recovery).
  void Own() { owned_ = true; }
  // Leaves the device to the next server (a handover): closing /dev/ublkcN
  // only, no DEL_DEV.
  void Release() { owned_ = false; }

 private:
  Device(ControlDevice& control, const abi::DevInfo& info)
      : control_(&control), info_(info) {}

  ControlDevice* control_;
  abi::DevInfo info_;
  bool owned_ = true;
  Fd char_fd_;
};

}  // namespace ublk

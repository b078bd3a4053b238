// ControlDevice: a client of /dev/ublk-control.
//
// Owns the control fd and a private 128-byte-SQE io_uring; sends one command
// at a time and waits for its completion (the kernel runs control commands
// in a worker and some of them sleep: START_DEV, DEL_DEV). Not thread-safe:
// use one ControlDevice per thread. Errors name the command and the device.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "ctrl_cmd.h"
#include "ublk/abi.h"
#include "ublk/fd.h"
#include "ublk/result.h"
#include "ublk/ring.h"

namespace ublk {

inline constexpr const char* kControlPath = "/dev/ublk-control";

class ControlDevice {
 public:
  // Opens the control device. Errors say what to do: load the module, run
  // as root or join the group that may open it. Fails when the kernel lacks ioctl-encoded commands (< 6.4).
  static Result<ControlDevice> Open();

  // The kernel's UBLK_F_* bits (GET_FEATURES, 6.5+).
  uint64_t features() const { return features_; }

  // Sends a built command as it is; returns cqe->res (>= 0) or the errno as
  // Error, described as "<what>: strerror".
  Result<int> Send(CtrlRequest req, const std::string& what);
  // Sends a command for device req.cmd.dev_id, with the char device's path
  // in front (WithDevPath) when that device is unprivileged: learnt from
  // ADD_DEV or GET_DEV_INFO, asked with GET_DEV_INFO first otherwise.
  Result<int> SendTo(CtrlRequest req, const std::string& what);

  Result<abi::DevInfo> AddDev(const abi::DevInfo& wanted);
  Result<abi::DevInfo> GetDevInfo(uint32_t dev_id);
  Result<abi::Params> GetParams(uint32_t dev_id);
  Result<void> SetParams(uint32_t dev_id, abi::Params params);
  Result<void> StartDev(uint32_t dev_id, pid_t server_pid);
  Result<void> StopDev(uint32_t dev_id);
  // STOP_DEV unless the block device is open (EBUSY, nothing changed).
  Result<void> TryStopDev(uint32_t dev_id);
  // Recovery: START_USER_RECOVERY (EBUSY while the dead server's
  // /dev/ublkcN is not yet released) and END_USER_RECOVERY (waits for every
  // tag's FETCH, then the device is LIVE).
  Result<void> StartUserRecovery(uint32_t dev_id);
  Result<void> EndUserRecovery(uint32_t dev_id, pid_t server_pid);
  // The device's capacity, while it runs (UBLK_F_UPDATE_SIZE).
  Result<void> UpdateSize(uint32_t dev_id, uint64_t sectors);
  // Waits up to timeout_ms for in-flight I/O, then parks the device
  // QUIESCED for a new server (UBLK_F_QUIESCE); -EBUSY on timeout.
  Result<void> QuiesceDev(uint32_t dev_id, uint32_t timeout_ms);
  // Uses DEL_DEV_ASYNC when the kernel has it (does not wait for openers of
  // /dev/ublkbN to close), else DEL_DEV.
  Result<void> DelDev(uint32_t dev_id);
  // SHMEM_ZC: pins [addr, addr + len) of this process for the device;
  // returns the kernel's index for the buffer.
  Result<uint16_t> RegBuf(uint32_t dev_id, void* addr, uint64_t len);
  // CPUs the kernel maps to this queue (indices).
  Result<std::vector<int>> GetQueueAffinity(uint32_t dev_id, uint16_t queue);

 private:
  ControlDevice(Fd fd, Ring ring) : fd_(std::move(fd)), ring_(std::move(ring)) {}
  Fd fd_;
  Ring ring_;
  uint64_t features_ = 0;
  // Whether each device seen so far was made with UBLK_F_UNPRIVILEGED_DEV.
  std::map<uint32_t, bool> unprivileged_;
};

// Device ids that exist in the kernel (from /sys/class/ublk-char), sorted.
std::vector<uint32_t> ListDeviceIds();
bool DeviceExists(uint32_t dev_id);

}  // namespace ublk

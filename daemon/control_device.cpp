#include "control_device.h"

#include <dirent.h>
#include <sys/stat.h>
#include <sys/utsname.h>

#include <algorithm>
#include <cerrno>
#include <cstring>


namespace ublk {
namespace {

std::string KernelRelease() {
  utsname u{};
  return uname(&u) == 0 ? u.release : "unknown";
}

}  // namespace

Result<ControlDevice> ControlDevice::Open() {
  int fd = ::open(kControlPath, O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    if (err == ENOENT || err == ENODEV || err == ENXIO)
      return Error(std::error_code(err, std::generic_category()),
                   std::string(kControlPath) +
                       " not found: ublk_drv is not loaded: modprobe ublk_drv");
    if (err == EACCES || err == EPERM)
      return Error(std::error_code(err, std::generic_category()),
                   std::string("permission denied opening ") + kControlPath +
                       ": run as root, or join the group that may open it "
                       "(the package's udev rule gives it to group ublk: "
                       "usermod -aG ublk USER, then log in again)");
    return SysError(err, std::string("opening ") + kControlPath);
  }
  auto ring = Ring::Create({.entries = 4, .big_sqe = true});
  if (!ring) return ring.error();
  ControlDevice dev(Fd(fd), std::move(*ring));

  uint64_t features = 0;
  auto got = dev.Send(MakeGetFeatures(&features), "GET_FEATURES");
  if (!got) {
    return Invalid("kernel " + KernelRelease() +
                   ": ublk_drv does not answer GET_FEATURES (needs Linux 6.5 "
                   "or newer): " + got.error().message());
  }
  if (!(features & abi::kFCmdIoctlEncode)) {
    return Invalid("kernel " + KernelRelease() +
                   ": ublk_drv lacks ioctl-encoded commands "
                   "(UBLK_F_CMD_IOCTL_ENCODE, Linux 6.4+)");
  }
  dev.features_ = features;
  return dev;
}

Result<int> ControlDevice::Send(CtrlRequest req, const std::string& what) {
  io_uring* ring = ring_.get();
  io_uring_sqe* sqe = io_uring_get_sqe(ring);
  if (sqe == nullptr) return SysError(EBUSY, what);
  std::memset(sqe, 0, 128);
  io_uring_prep_rw(IORING_OP_URING_CMD, sqe, fd_.get(), nullptr, 0, 0);
  sqe->cmd_op = req.op;
  std::memcpy(sqe->cmd, &req.cmd, sizeof(req.cmd));
  int ret = io_uring_submit(ring);
  if (ret < 0) return SysError(-ret, what);
  io_uring_cqe* cqe = nullptr;
  do {
    ret = io_uring_wait_cqe(ring, &cqe);
  } while (ret == -EINTR);
  if (ret < 0) return SysError(-ret, what);
  int res = cqe->res;
  io_uring_cqe_seen(ring, cqe);
  if (res < 0) return SysError(-res, what);
  return res;
}

Result<abi::DevInfo> ControlDevice::AddDev(const abi::DevInfo& wanted) {
  abi::DevInfo info = wanted;
  auto r = Send(MakeAddDev(&info), "ADD_DEV");
  if (!r) {
    if (r.error().code().value() == EEXIST)
      return Invalid("device " + std::to_string(wanted.dev_id) +
                     " already exists");
    return r.error();
  }
  unprivileged_[info.dev_id] = (info.flags & abi::kFUnprivilegedDev) != 0;
  return info;
}

Result<abi::DevInfo> ControlDevice::GetDevInfo(uint32_t dev_id) {
  abi::DevInfo info{};
  const std::string what = "GET_DEV_INFO of device " + std::to_string(dev_id);
  // GET_DEV_INFO2 came with unprivileged devices (6.3) and is the only form
  // those answer; it needs /dev/ublkcN to be visible here, so fall back,
  // unless the kernel refused this caller the node (the fallback could only
  // fail less clearly).
  if (features_ & abi::kFUnprivilegedDev) {
    const CtrlRequest plain = MakeGetDevInfo2(dev_id, &info);
    std::vector<char> buf;
    auto r = Send(WithDevPath(plain, &buf), what);
    if (r) {
      CopyBack(plain, buf);
      unprivileged_[dev_id] = (info.flags & abi::kFUnprivilegedDev) != 0;
      return info;
    }
    const int err = r.error().code().value();
    if (err == EACCES || err == EPERM) return r.error();
  }
  auto r = Send(MakeGetDevInfo(dev_id, &info), what);
  if (!r) return r.error();
  unprivileged_[dev_id] = (info.flags & abi::kFUnprivilegedDev) != 0;
  return info;
}

Result<int> ControlDevice::SendTo(CtrlRequest req, const std::string& what) {
  const uint32_t dev_id = req.cmd.dev_id;
  auto known = unprivileged_.find(dev_id);
  if (known == unprivileged_.end()) {
    auto info = GetDevInfo(dev_id);
    if (!info) return info.error().Wrap(what);
    known = unprivileged_.find(dev_id);
  }
  if (!known->second) return Send(req, what);
  std::vector<char> buf;
  auto r = Send(WithDevPath(req, &buf), what);
  if (r) CopyBack(req, buf);
  return r;
}

Result<abi::Params> ControlDevice::GetParams(uint32_t dev_id) {
  abi::Params p{};
  auto r = SendTo(MakeGetParams(dev_id, &p),
                "GET_PARAMS of device " + std::to_string(dev_id));
  if (!r) return r.error();
  return p;
}

Result<void> ControlDevice::SetParams(uint32_t dev_id, abi::Params params) {
  auto r = SendTo(MakeSetParams(dev_id, &params),
                "SET_PARAMS of device " + std::to_string(dev_id));
  if (!r) return r.error();
  return {};
}

Result<void> ControlDevice::StartDev(uint32_t dev_id, pid_t server_pid) {
  auto r = SendTo(MakeStartDev(dev_id, server_pid),
                "START_DEV of device " + std::to_string(dev_id));
  if (!r) return r.error();
  return {};
}

Result<void> ControlDevice::StopDev(uint32_t dev_id) {
  auto r = SendTo(MakeStopDev(dev_id),
                "STOP_DEV of device " + std::to_string(dev_id));
  if (!r) return r.error();
  return {};
}

Result<void> ControlDevice::TryStopDev(uint32_t dev_id) {
  auto r = SendTo(MakeTryStopDev(dev_id),
                "TRY_STOP_DEV of device " + std::to_string(dev_id));
  if (!r) return r.error();
  return {};
}

Result<void> ControlDevice::StartUserRecovery(uint32_t dev_id) {
  auto r = SendTo(MakeStartUserRecovery(dev_id),
                "START_USER_RECOVERY of device " + std::to_string(dev_id));
  if (!r) return r.error();
  return {};
}

Result<void> ControlDevice::EndUserRecovery(uint32_t dev_id, pid_t server_pid) {
  auto r = SendTo(MakeEndUserRecovery(dev_id, server_pid),
                "END_USER_RECOVERY of device " + std::to_string(dev_id));
  if (!r) return r.error();
  return {};
}

Result<void> ControlDevice::UpdateSize(uint32_t dev_id, uint64_t sectors) {
  auto r = SendTo(MakeUpdateSize(dev_id, sectors),
                "UPDATE_SIZE of device " + std::to_string(dev_id));
  if (!r) return r.error();
  return {};
}

Result<void> ControlDevice::QuiesceDev(uint32_t dev_id, uint32_t timeout_ms) {
  auto r = SendTo(MakeQuiesceDev(dev_id, timeout_ms),
                "QUIESCE_DEV of device " + std::to_string(dev_id));
  if (!r) return r.error();
  return {};
}

Result<void> ControlDevice::DelDev(uint32_t dev_id) {
  // DEL_DEV_ASYNC (6.9) has no feature bit: try it, and fall back to the
  // waiting DEL_DEV when the kernel does not know the opcode.
  auto r = SendTo(MakeDelDev(dev_id, /*async=*/true),
                "DEL_DEV of device " + std::to_string(dev_id));
  if (!r && (r.error().code().value() == EOPNOTSUPP ||
             r.error().code().value() == EINVAL)) {
    r = SendTo(MakeDelDev(dev_id, /*async=*/false),
             "DEL_DEV of device " + std::to_string(dev_id));
  }
  if (!r) return r.error();
  return {};
}

Result<uint16_t> ControlDevice::RegBuf(uint32_t dev_id, void* addr,
                                      uint64_t len) {
  abi::ShmemBufReg reg{};
  reg.addr = reinterpret_cast<uintptr_t>(addr);
  reg.len = len;
  auto r = SendTo(MakeRegBuf(dev_id, &reg),
                "REG_BUF of device " + std::to_string(dev_id));
  if (!r) return r.error();
  if (*r > 0xFFFF)
    return Invalid("REG_BUF of device " + std::to_string(dev_id) +
                   ": index " + std::to_string(*r) + " out of range");
  return static_cast<uint16_t>(*r);
}

Result<std::vector<int>> ControlDevice::GetQueueAffinity(uint32_t dev_id,
                                                         uint16_t queue) {
  uint64_t mask[64] = {};  // 4096 CPUs
  auto r = SendTo(MakeGetQueueAffinity(dev_id, queue, mask, sizeof(mask)),
                "GET_QUEUE_AFFINITY of device " + std::to_string(dev_id));
  if (!r) return r.error();
  std::vector<int> cpus;
  for (int i = 0; i < 64 * 64; ++i)
    if (mask[i / 64] & (1ULL << (i % 64))) cpus.push_back(i);
  return cpus;
}

std::vector<uint32_t> ListDeviceIds() {
  std::vector<uint32_t> ids;
  DIR* dir = opendir("/sys/class/ublk-char");
  if (dir == nullptr) return ids;
  while (dirent* e = readdir(dir)) {
    unsigned id = 0;
    char tail = 0;
    if (std::sscanf(e->d_name, "ublkc%u%c", &id, &tail) == 1) ids.push_back(id);
  }
  closedir(dir);
  std::sort(ids.begin(), ids.end());
  return ids;
}

bool DeviceExists(uint32_t dev_id) {
  struct stat st;
  std::string path = "/sys/class/ublk-char/ublkc" + std::to_string(dev_id);
  return ::stat(path.c_str(), &st) == 0;
}

}  // namespace ublk

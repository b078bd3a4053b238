#include "ctrl_cmd.h"

#include <cstring>
#include <string>

namespace ublk {
namespace {

CtrlRequest Make(uint32_t op, uint32_t dev_id, void* buf, uint16_t len) {
  CtrlRequest r{};
  r.op = op;
  r.cmd.dev_id = dev_id;
  r.cmd.queue_id = abi::kNoQueue;
  r.cmd.addr = reinterpret_cast<uintptr_t>(buf);
  r.cmd.len = len;
  return r;
}

}  // namespace

CtrlRequest MakeGetFeatures(uint64_t* features) {
  // No device: the id is ignored, but send the "none" value, not 0.
  return Make(abi::kCmdGetFeatures, abi::kNewDevId, features,
              sizeof(*features));
}

CtrlRequest MakeAddDev(abi::DevInfo* info) {
  return Make(abi::kCmdAddDev, info->dev_id, info, sizeof(*info));
}

CtrlRequest MakeDelDev(uint32_t dev_id, bool async) {
  return Make(async ? abi::kCmdDelDevAsync : abi::kCmdDelDev, dev_id, nullptr,
              0);
}

CtrlRequest MakeStartDev(uint32_t dev_id, pid_t server_pid) {
  CtrlRequest r = Make(abi::kCmdStartDev, dev_id, nullptr, 0);
  r.cmd.data[0] = static_cast<uint64_t>(server_pid);
  return r;
}

CtrlRequest MakeStopDev(uint32_t dev_id) {
  return Make(abi::kCmdStopDev, dev_id, nullptr, 0);
}

CtrlRequest MakeTryStopDev(uint32_t dev_id) {
  return Make(abi::kCmdTryStopDev, dev_id, nullptr, 0);
}

CtrlRequest MakeStartUserRecovery(uint32_t dev_id) {
  return Make(abi::kCmdStartUserRecovery, dev_id, nullptr, 0);
}

CtrlRequest MakeEndUserRecovery(uint32_t dev_id, pid_t server_pid) {
  CtrlRequest r = Make(abi::kCmdEndUserRecovery, dev_id, nullptr, 0);
  r.cmd.data[0] = static_cast<uint64_t>(server_pid);
  return r;
}

CtrlRequest MakeUpdateSize(uint32_t dev_id, uint64_t sectors) {
  CtrlRequest r = Make(abi::kCmdUpdateSize, dev_id, nullptr, 0);
  r.cmd.data[0] = sectors;
  return r;
}

CtrlRequest MakeQuiesceDev(uint32_t dev_id, uint32_t timeout_ms) {
  CtrlRequest r = Make(abi::kCmdQuiesceDev, dev_id, nullptr, 0);
  r.cmd.data[0] = timeout_ms;
  return r;
}

CtrlRequest MakeSetParams(uint32_t dev_id, abi::Params* params) {
  params->len = sizeof(*params);
  return Make(abi::kCmdSetParams, dev_id, params, sizeof(*params));
}

CtrlRequest MakeGetParams(uint32_t dev_id, abi::Params* params) {
  std::memset(params, 0, sizeof(*params));
  params->len = sizeof(*params);
  return Make(abi::kCmdGetParams, dev_id, params, sizeof(*params));
}

CtrlRequest MakeGetDevInfo(uint32_t dev_id, abi::DevInfo* info) {
  return Make(abi::kCmdGetDevInfo, dev_id, info, sizeof(*info));
}

CtrlRequest MakeGetDevInfo2(uint32_t dev_id, abi::DevInfo* info) {
  return Make(abi::kCmdGetDevInfo2, dev_id, info, sizeof(*info));
}

std::string CharDevPath(uint32_t dev_id) {
  return "/dev/ublkc" + std::to_string(dev_id);
}

CtrlRequest WithDevPath(const CtrlRequest& req, std::vector<char>* buf) {
  const std::string path = CharDevPath(req.cmd.dev_id);
  const size_t path_len = path.size() + 1;
  buf->assign(path_len + req.cmd.len, '\0');
  std::memcpy(buf->data(), path.c_str(), path_len);
  if (req.cmd.len != 0)
    std::memcpy(buf->data() + path_len,
                reinterpret_cast<const void*>(
                    static_cast<uintptr_t>(req.cmd.addr)),
                req.cmd.len);
  CtrlRequest r = req;
  r.cmd.addr = reinterpret_cast<uintptr_t>(buf->data());
  r.cmd.len = static_cast<uint16_t>(buf->size());
  r.cmd.dev_path_len = static_cast<uint16_t>(path_len);
  return r;
}

void CopyBack(const CtrlRequest& req, const std::vector<char>& buf) {
  if (req.cmd.len == 0) return;
  const size_t path_len = CharDevPath(req.cmd.dev_id).size() + 1;
  std::memcpy(reinterpret_cast<void*>(static_cast<uintptr_t>(req.cmd.addr)),
              buf.data() + path_len, req.cmd.len);
}

CtrlRequest MakeRegBuf(uint32_t dev_id, abi::ShmemBufReg* reg) {
  return Make(abi::kCmdRegBuf, dev_id, reg, sizeof(*reg));
}

CtrlRequest MakeGetQueueAffinity(uint32_t dev_id, uint16_t queue, void* mask,
                                 uint16_t mask_bytes) {
  CtrlRequest r = Make(abi::kCmdGetQueueAffinity, dev_id, mask, mask_bytes);
  r.cmd.data[0] = queue;
  return r;
}

}  // namespace ublk

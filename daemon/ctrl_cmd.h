// Pure builders for ublk control commands.
//
// Each function returns the command number and the 32-byte payload that go
// into one 128-byte SQE; nothing is sent. Pointers passed in are stored as
// the command's buffer address and must stay valid until the command has
// completed. ControlDevice sends what these build.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "ublk/abi.h"

namespace ublk {

struct CtrlRequest {
  uint32_t op;
  abi::CtrlCmd cmd;
};

CtrlRequest MakeGetFeatures(uint64_t* features);
// info is sent and overwritten with the negotiated values.
CtrlRequest MakeAddDev(abi::DevInfo* info);
CtrlRequest MakeDelDev(uint32_t dev_id, bool async);
CtrlRequest MakeStartDev(uint32_t dev_id, pid_t server_pid);
CtrlRequest MakeStopDev(uint32_t dev_id);
CtrlRequest MakeTryStopDev(uint32_t dev_id);
CtrlRequest MakeStartUserRecovery(uint32_t dev_id);
// Like START_DEV, the pid must be the process that opened /dev/ublkcN.
CtrlRequest MakeEndUserRecovery(uint32_t dev_id, pid_t server_pid);
CtrlRequest MakeUpdateSize(uint32_t dev_id, uint64_t sectors);
CtrlRequest MakeQuiesceDev(uint32_t dev_id, uint32_t timeout_ms);
CtrlRequest MakeSetParams(uint32_t dev_id, abi::Params* params);
CtrlRequest MakeGetParams(uint32_t dev_id, abi::Params* params);
CtrlRequest MakeGetDevInfo(uint32_t dev_id, abi::DevInfo* info);

// GET_DEV_INFO2 (6.3+): GET_DEV_INFO for a device that may be unprivileged.
// The kernel answers it only with the char device's path in front of the
// info, so send it through WithDevPath.
CtrlRequest MakeGetDevInfo2(uint32_t dev_id, abi::DevInfo* info);
// reg is sent as is; the answer (cqe->res) is the buffer's index.
CtrlRequest MakeRegBuf(uint32_t dev_id, abi::ShmemBufReg* reg);
// mask receives a CPU bitmap of mask_bytes (a multiple of 8).
CtrlRequest MakeGetQueueAffinity(uint32_t dev_id, uint16_t queue,
                                 void* mask, uint16_t mask_bytes);

// "/dev/ublkcN", the path the kernel checks for device N.
std::string CharDevPath(uint32_t dev_id);

// Unprivileged devices (UBLK_F_UNPRIVILEGED_DEV, 6.3+): every command to one
// (all but ADD_DEV and GET_FEATURES) carries "/dev/ublkcN\0" at the start of
// its buffer, with dev_path_len its length including the NUL and len the
// path plus the command's own buffer. The kernel checks the caller's access
// to that inode (read for the GET_* commands, read and write for the
// others), then strips the path and handles the rest as the command's
// buffer. A privileged device's commands must not carry it (the kernel would
// take the path for the payload), except GET_DEV_INFO2, which always does.
//
// Returns `req` rewritten to use `buf` (resized: the path, then a copy of
// the len bytes req.cmd.addr points to); buf must live until the command has
// completed. Then CopyBack puts the payload the kernel wrote (GET_PARAMS,
// GET_DEV_INFO2, GET_QUEUE_AFFINITY) back where req pointed.
CtrlRequest WithDevPath(const CtrlRequest& req, std::vector<char>* buf);
void CopyBack(const CtrlRequest& req, const std::vector<char>& buf);

}  // namespace ublk

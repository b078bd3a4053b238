// Pure builders for ublk control commands.
//
// Each function returns the command number and the 32-byte payload that go
// into one 128-byte SQE; nothing is sent. Pointers passed in are stored as
// the command's buffer address and must stay valid until the command has
// completed. ControlDevice sends what these build.
#pragma once

#include <sys/types.h>

#include <cstdint>

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

// GET_DEV_INFO2 (6.3+) always carries the char device's path in front of the
// info, and the kernel checks it against the device. Writes "/dev/ublkcN\0"
// into buf and leaves the DevInfo at DevInfo2Offset(dev_id).
struct DevInfo2Buffer {
  char bytes[64 + sizeof(abi::DevInfo)];
};
size_t DevInfo2Offset(uint32_t dev_id);
CtrlRequest MakeGetDevInfo2(uint32_t dev_id, DevInfo2Buffer* buf);
// reg is sent as is; the answer (cqe->res) is the buffer's index.
CtrlRequest MakeRegBuf(uint32_t dev_id, abi::ShmemBufReg* reg);
// mask receives a CPU bitmap of mask_bytes (a multiple of 8).
CtrlRequest MakeGetQueueAffinity(uint32_t dev_id, uint16_t queue,
                                 void* mask, uint16_t mask_bytes);

}  // namespace ublk

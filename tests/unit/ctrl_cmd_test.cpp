// Control commands are built field by field without a kernel.
#include "ctrl_cmd.h"

#include <gtest/gtest.h>

#include <cstring>

namespace ublk {
namespace {

TEST(CtrlCmd, AddDevSendsTheInfoBufferAndRequestedId) {
  abi::DevInfo info{};
  info.dev_id = abi::kNewDevId;
  CtrlRequest r = MakeAddDev(&info);
  EXPECT_EQ(r.op, abi::kCmdAddDev);
  EXPECT_EQ(r.cmd.dev_id, abi::kNewDevId);
  EXPECT_EQ(r.cmd.queue_id, abi::kNoQueue);
  EXPECT_EQ(r.cmd.addr, reinterpret_cast<uintptr_t>(&info));
  EXPECT_EQ(r.cmd.len, sizeof(abi::DevInfo));
  EXPECT_EQ(r.cmd.data[0], 0u);
}

TEST(CtrlCmd, StartDevCarriesTheServerPid) {
  CtrlRequest r = MakeStartDev(7, 4242);
  EXPECT_EQ(r.op, abi::kCmdStartDev);
  EXPECT_EQ(r.cmd.dev_id, 7u);
  EXPECT_EQ(r.cmd.data[0], 4242u);
  EXPECT_EQ(r.cmd.addr, 0u);
  EXPECT_EQ(r.cmd.len, 0u);
}

TEST(CtrlCmd, DelDevPicksAsyncOrWaitingVariant) {
  EXPECT_EQ(MakeDelDev(3, true).op, abi::kCmdDelDevAsync);
  EXPECT_EQ(MakeDelDev(3, false).op, abi::kCmdDelDev);
  EXPECT_EQ(MakeDelDev(3, true).cmd.dev_id, 3u);
}

TEST(CtrlCmd, SetParamsStampsTheLengthTheKernelCopies) {
  abi::Params p{};
  CtrlRequest r = MakeSetParams(1, &p);
  EXPECT_EQ(p.len, sizeof(abi::Params));
  EXPECT_EQ(r.cmd.len, sizeof(abi::Params));
  EXPECT_EQ(r.cmd.addr, reinterpret_cast<uintptr_t>(&p));
  EXPECT_EQ(r.op, abi::kCmdSetParams);
}

TEST(CtrlCmd, GetParamsClearsTheBufferAndSetsItsLength) {
  abi::Params p;
  std::memset(&p, 0xff, sizeof(p));
  CtrlRequest r = MakeGetParams(2, &p);
  EXPECT_EQ(p.len, sizeof(abi::Params));
  EXPECT_EQ(p.types, 0u);
  EXPECT_EQ(r.op, abi::kCmdGetParams);
}

TEST(CtrlCmd, GetDevInfoFillsA64ByteBuffer) {
  abi::DevInfo info{};
  CtrlRequest r = MakeGetDevInfo(5, &info);
  EXPECT_EQ(r.op, abi::kCmdGetDevInfo);
  EXPECT_EQ(r.cmd.len, 64u);
  EXPECT_EQ(r.cmd.dev_id, 5u);
  EXPECT_EQ(r.cmd.dev_path_len, 0u);
}

// The kernel checks GET_DEV_INFO2's path even for privileged devices; without
// it the command fails with EINVAL (seen on 7.2).
TEST(CtrlCmd, GetDevInfo2PutsTheCharDevicePathInFrontOfTheInfo) {
  DevInfo2Buffer buf;
  CtrlRequest r = MakeGetDevInfo2(12, &buf);
  EXPECT_EQ(r.op, abi::kCmdGetDevInfo2);
  EXPECT_STREQ(buf.bytes, "/dev/ublkc12");
  EXPECT_EQ(r.cmd.dev_path_len, sizeof("/dev/ublkc12"));
  EXPECT_EQ(DevInfo2Offset(12), sizeof("/dev/ublkc12"));
  EXPECT_EQ(r.cmd.len, sizeof("/dev/ublkc12") + 64);
  EXPECT_EQ(r.cmd.addr, reinterpret_cast<uintptr_t>(buf.bytes));
}

TEST(CtrlCmd, QueueAffinityNamesTheQueueInData0) {
  uint64_t mask[16];
  CtrlRequest r = MakeGetQueueAffinity(1, 3, mask, sizeof(mask));
  EXPECT_EQ(r.op, abi::kCmdGetQueueAffinity);
  EXPECT_EQ(r.cmd.data[0], 3u);
  EXPECT_EQ(r.cmd.queue_id, abi::kNoQueue);
  EXPECT_EQ(r.cmd.len, sizeof(mask));
}

TEST(CtrlCmd, GetFeaturesNeedsNoDevice) {
  uint64_t f = 0;
  CtrlRequest r = MakeGetFeatures(&f);
  EXPECT_EQ(r.op, abi::kCmdGetFeatures);
  EXPECT_EQ(r.cmd.len, 8u);
  EXPECT_EQ(r.cmd.addr, reinterpret_cast<uintptr_t>(&f));
}

}  // namespace
}  // namespace ublk

// Control commands are built field by field without a kernel.
#include "ctrl_cmd.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

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
TEST(CtrlCmd, GetDevInfo2IsGetDevInfoUnderItsOwnNumber) {
  abi::DevInfo info{};
  CtrlRequest r = MakeGetDevInfo2(12, &info);
  EXPECT_EQ(r.op, abi::kCmdGetDevInfo2);
  EXPECT_EQ(r.cmd.dev_id, 12u);
  EXPECT_EQ(r.cmd.len, sizeof(abi::DevInfo));
  EXPECT_EQ(r.cmd.dev_path_len, 0u);
}

// The kernel reads the path from the start of the buffer and the payload
// after it; len covers both, dev_path_len the path with its NUL.
TEST(CtrlCmd, DevPathGoesInFrontOfThePayloadAndLenCoversBoth) {
  abi::Params params{};
  CtrlRequest plain = MakeSetParams(12, &params);
  params.basic.dev_sectors = 4096;
  std::vector<char> buf;
  CtrlRequest r = WithDevPath(plain, &buf);
  EXPECT_EQ(r.op, abi::kCmdSetParams);
  EXPECT_EQ(r.cmd.dev_id, 12u);
  EXPECT_EQ(r.cmd.dev_path_len, sizeof("/dev/ublkc12"));
  EXPECT_EQ(r.cmd.len, sizeof("/dev/ublkc12") + sizeof(abi::Params));
  EXPECT_EQ(r.cmd.addr, reinterpret_cast<uintptr_t>(buf.data()));
  EXPECT_STREQ(buf.data(), "/dev/ublkc12");
  abi::Params sent{};
  std::memcpy(&sent, buf.data() + sizeof("/dev/ublkc12"), sizeof(sent));
  EXPECT_EQ(sent.basic.dev_sectors, 4096u);
  EXPECT_EQ(sent.len, sizeof(abi::Params));
}

// DEL_DEV, START_DEV and the like have no buffer of their own: only the path.
TEST(CtrlCmd, DevPathAloneForACommandWithoutABuffer) {
  std::vector<char> buf;
  CtrlRequest r = WithDevPath(MakeStartDev(3, 99), &buf);
  EXPECT_EQ(r.cmd.len, sizeof("/dev/ublkc3"));
  EXPECT_EQ(r.cmd.dev_path_len, sizeof("/dev/ublkc3"));
  EXPECT_EQ(r.cmd.data[0], 99u);
  EXPECT_EQ(std::string(buf.data()), "/dev/ublkc3");
}

TEST(CtrlCmd, CopyBackReturnsWhatTheKernelWroteAfterThePath) {
  abi::DevInfo info{};
  CtrlRequest plain = MakeGetDevInfo2(7, &info);
  std::vector<char> buf;
  (void)WithDevPath(plain, &buf);
  abi::DevInfo answer{};
  answer.dev_id = 7;
  answer.owner_uid = 1001;
  std::memcpy(buf.data() + sizeof("/dev/ublkc7"), &answer, sizeof(answer));
  CopyBack(plain, buf);
  EXPECT_EQ(info.owner_uid, 1001u);
  EXPECT_EQ(info.dev_id, 7u);
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

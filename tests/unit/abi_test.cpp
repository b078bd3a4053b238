// The ABI definitions against numbers taken from the kernel's documentation.
#include "ublk/abi.h"

#include <gtest/gtest.h>

namespace ublk::abi {
namespace {

TEST(Abi, ControlCommandNumbersAreIoctlEncoded) {
  EXPECT_EQ(kCmdGetQueueAffinity, 0x80207501u);
  EXPECT_EQ(kCmdGetDevInfo, 0x80207502u);
  EXPECT_EQ(kCmdAddDev, 0xC0207504u);
  EXPECT_EQ(kCmdDelDev, 0xC0207505u);
  EXPECT_EQ(kCmdStartDev, 0xC0207506u);
  EXPECT_EQ(kCmdStopDev, 0xC0207507u);
  EXPECT_EQ(kCmdSetParams, 0xC0207508u);
  EXPECT_EQ(kCmdGetParams, 0x80207509u);
  EXPECT_EQ(kCmdStartUserRecovery, 0xC0207510u);
  EXPECT_EQ(kCmdEndUserRecovery, 0xC0207511u);
  EXPECT_EQ(kCmdGetDevInfo2, 0x80207512u);
  EXPECT_EQ(kCmdGetFeatures, 0x80207513u);
  EXPECT_EQ(kCmdDelDevAsync, 0x80207514u);
}

TEST(Abi, IoCommandNumbersAreIoctlEncoded) {
  EXPECT_EQ(kIoFetchReq, 0xC0107520u);
  EXPECT_EQ(kIoCommitAndFetchReq, 0xC0107521u);
  EXPECT_EQ(kIoNeedGetData, 0xC0107522u);
  EXPECT_EQ(kIoRegisterIoBuf, 0xC0107523u);
  EXPECT_EQ(kIoUnregisterIoBuf, 0xC0107524u);
}

TEST(Abi, AutoBufRegPutsTheIndexLowAndTheFlagsInTheThirdByte) {
  EXPECT_EQ(AutoBufReg(0, 0), 0u);
  EXPECT_EQ(AutoBufReg(5, kAutoBufRegFallback), 0x10005u);
  // The whole 16-bit index survives and nothing reaches the reserved bits,
  // which the kernel requires to be zero (-EINVAL otherwise).
  EXPECT_EQ(AutoBufReg(0xffff, 0xff), 0xffffffu);
  EXPECT_EQ(kIoFNeedRegBuf, 1u << 17);
}

TEST(Abi, DescriptorOpIsTheLowByte) {
  IoDesc d{};
  d.op_flags = kOpWrite | kIoFFua;
  EXPECT_EQ(DescOp(d), kOpWrite);
  EXPECT_TRUE(d.op_flags & kIoFFua);
}

TEST(Abi, FeatureBitsMatchTheKernel) {
  EXPECT_EQ(kFCmdIoctlEncode, 1ULL << 6);
  EXPECT_EQ(kFUserCopy, 1ULL << 7);
  EXPECT_EQ(kFAutoBufReg, 1ULL << 11);
  EXPECT_EQ(kFSafeStopDev, 1ULL << 17);
}

}  // namespace
}  // namespace ublk::abi

// Device parameters and feature negotiation from a target's description.
#include "params.h"

#include <gtest/gtest.h>

#include "feature_flags.h"

namespace ublk {
namespace {

TEST(Params, BasicCarriesSizeBlockSizesAndMaxSectors) {
  DeviceGeometry g;
  g.size_bytes = 1ULL << 30;
  abi::Params p = BuildParams(g, 512 << 10);
  EXPECT_EQ(p.len, sizeof(abi::Params));
  EXPECT_EQ(p.types, abi::kParamTypeBasic);
  EXPECT_EQ(p.basic.dev_sectors, (1ULL << 30) >> 9);
  EXPECT_EQ(p.basic.max_sectors, 1024u);
  EXPECT_EQ(p.basic.logical_bs_shift, 9);
  EXPECT_EQ(p.basic.physical_bs_shift, 12);
  EXPECT_EQ(p.basic.attrs, 0u);
}

TEST(Params, FuaOnlyWithAVolatileCache) {
  DeviceGeometry g;
  g.fua = true;
  EXPECT_EQ(BuildParams(g, 4096).basic.attrs, 0u);
  g.volatile_cache = true;
  EXPECT_EQ(BuildParams(g, 4096).basic.attrs,
            abi::kAttrVolatileCache | abi::kAttrFua);
  g.read_only = true;
  EXPECT_TRUE(BuildParams(g, 4096).basic.attrs & abi::kAttrReadOnly);
}

TEST(Params, DiscardLimitsOnlyWhenTheTargetDiscards) {
  DeviceGeometry g;
  EXPECT_EQ(BuildParams(g, 4096).types & abi::kParamTypeDiscard, 0u);
  g.discard = true;
  abi::Params p = BuildParams(g, 4096);
  EXPECT_TRUE(p.types & abi::kParamTypeDiscard);
  EXPECT_EQ(p.discard.max_discard_segments, 1);
  EXPECT_EQ(p.discard.discard_granularity, 4096u);
  EXPECT_GT(p.discard.max_discard_sectors, 0u);
  EXPECT_EQ(p.discard.max_write_zeroes_sectors, 0u);
  // A request's byte length is 32 bits: the limits must keep it below 4 GiB.
  EXPECT_LE(uint64_t{p.discard.max_discard_sectors} << 9, UINT32_MAX);
}

TEST(Params, BackendLimitsCapDiscardAndWriteZeroes) {
  DeviceGeometry g;
  g.discard = true;
  g.write_zeroes = true;
  g.max_discard_sectors = 1000;
  g.max_write_zeroes_sectors = 65536;
  abi::Params p = BuildParams(g, 4096);
  EXPECT_EQ(p.discard.max_discard_sectors, 1000u);
  EXPECT_EQ(p.discard.max_write_zeroes_sectors, 65536u);
}

TEST(FeatureFlags, NamesBitsInOrderAndUnknownOnesByNumber) {
  auto names = FeatureNames(abi::kFUserCopy | abi::kFCmdIoctlEncode | (1ULL << 40));
  ASSERT_EQ(names.size(), 3u);
  EXPECT_EQ(names[0], "CMD_IOCTL_ENCODE");
  EXPECT_EQ(names[1], "USER_COPY");
  EXPECT_EQ(names[2], "BIT_40");
}

TEST(FeatureFlags, DatalessTargetUsesUserCopyWhenTheKernelHasIt) {
  FlagChoice c = ChooseFlags(abi::kFUserCopy | abi::kFCmdIoctlEncode,
                             DataAccess::kNone);
  EXPECT_TRUE(c.flags & abi::kFUserCopy);
  EXPECT_EQ(c.data_path, DataPath::kNone);
  c = ChooseFlags(abi::kFCmdIoctlEncode, DataAccess::kNone);
  EXPECT_EQ(c.data_path, DataPath::kCopy);
  c = ChooseFlags(abi::kFUserCopy | abi::kFCmdIoctlEncode, DataAccess::kBuffer);
  EXPECT_FALSE(c.flags & abi::kFUserCopy);
  EXPECT_EQ(c.data_path, DataPath::kCopy);
}

}  // namespace
}  // namespace ublk

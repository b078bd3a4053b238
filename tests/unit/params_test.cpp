// Device parameters and feature negotiation from a target's description.
#include "params.h"

#include <gtest/gtest.h>

#include "feature_flags.h"

namespace ublk {
namespace {

TEST(Params, BasicCarriesSizeBlockSizesAndMaxSectors) {
  DeviceGeometry g;
  g.size_bytes = 1ULL << 30;
  abi::Params p = BuildParams(g, 512 << 10, false);
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
  EXPECT_EQ(BuildParams(g, 4096, false).basic.attrs, 0u);
  g.volatile_cache = true;
  EXPECT_EQ(BuildParams(g, 4096, false).basic.attrs,
            abi::kAttrVolatileCache | abi::kAttrFua);
  g.read_only = true;
  EXPECT_TRUE(BuildParams(g, 4096, false).basic.attrs & abi::kAttrReadOnly);
}

TEST(Params, DiscardLimitsOnlyWhenTheTargetDiscards) {
  DeviceGeometry g;
  EXPECT_EQ(BuildParams(g, 4096, false).types & abi::kParamTypeDiscard, 0u);
  g.discard = true;
  abi::Params p = BuildParams(g, 4096, false);
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
  abi::Params p = BuildParams(g, 4096, false);
  EXPECT_EQ(p.discard.max_discard_sectors, 1000u);
  EXPECT_EQ(p.discard.max_write_zeroes_sectors, 65536u);
}

TEST(Params, ZeroCopyCarriesTheBackendsDmaLimitsCopyDoesNot) {
  DeviceGeometry g;  // as the NVMe target reports a QEMU namespace
  g.virt_boundary_mask = 4095;
  g.dma_alignment = 3;
  g.max_segments = 127;
  g.max_segment_size = 0;  // unknown
  abi::Params copy = BuildParams(g, 512 << 10, false);
  EXPECT_EQ(copy.basic.virt_boundary_mask, 0u);
  EXPECT_EQ(copy.types & (abi::kParamTypeDmaAlign | abi::kParamTypeSegment),
            0u);
  abi::Params zc = BuildParams(g, 512 << 10, true);
  EXPECT_EQ(zc.basic.virt_boundary_mask, 4095u);
  EXPECT_TRUE(zc.types & abi::kParamTypeDmaAlign);
  EXPECT_EQ(zc.dma.alignment, 3u);
  ASSERT_TRUE(zc.types & abi::kParamTypeSegment);
  EXPECT_EQ(zc.seg.max_segments, 127);
  // The kernel's own defaults where the backend says nothing; never 0.
  EXPECT_EQ(zc.seg.max_segment_size, UINT32_MAX);
  EXPECT_EQ(zc.seg.seg_boundary_mask, UINT32_MAX);
  g.max_segment_size = 512;  // below what ublk accepts: the smallest valid
  EXPECT_EQ(BuildParams(g, 512 << 10, true).seg.max_segment_size, 4096u);
}

TEST(Params, ZeroCopyWithoutBackendLimitsAddsNoParamTypes) {
  DeviceGeometry g;
  abi::Params p = BuildParams(g, 512 << 10, true);
  EXPECT_EQ(p.types, abi::kParamTypeBasic);
  EXPECT_EQ(p.basic.virt_boundary_mask, 0u);
}

// The profile of a PI type 1 namespace becomes the INTEGRITY params the
// kernel turns into the block layer's T10-DIF-TYPE1-CRC profile.
TEST(Params, IntegrityProfileBecomesIntegrityParams) {
  DeviceGeometry g;
  g.logical_bs_shift = 9;
  EXPECT_EQ(BuildParams(g, 4096, false).types & abi::kParamTypeIntegrity, 0u);
  g.integrity.metadata_size = 8;
  g.integrity.pi_offset = 0;
  g.integrity.csum_type = abi::kPiCsumCrc16T10Dif;
  g.integrity.tag_size = 2;
  g.integrity.flags = abi::kPiCapIntegrity | abi::kPiCapRefTag;
  abi::Params p = BuildParams(g, 4096, false);
  EXPECT_EQ(p.len, 152u);
  EXPECT_TRUE(p.types & abi::kParamTypeIntegrity);
  EXPECT_EQ(p.integrity.flags, abi::kPiCapIntegrity | abi::kPiCapRefTag);
  EXPECT_EQ(p.integrity.interval_exp, 9);
  EXPECT_EQ(p.integrity.metadata_size, 8);
  EXPECT_EQ(p.integrity.pi_offset, 0);
  EXPECT_EQ(p.integrity.csum_type, 2);
  EXPECT_EQ(p.integrity.tag_size, 2);
  EXPECT_EQ(p.integrity.max_integrity_segments, 0);
  // The interval is the logical block, as in NVMe formats.
  g.logical_bs_shift = 12;
  EXPECT_EQ(BuildParams(g, 4096, false).integrity.interval_exp, 12);
  // Opaque metadata ("nop"): a size, nothing else.
  g.integrity = {};
  g.integrity.metadata_size = 8;
  p = BuildParams(g, 4096, false);
  EXPECT_TRUE(p.types & abi::kParamTypeIntegrity);
  EXPECT_EQ(p.integrity.csum_type, abi::kPiCsumNone);
  EXPECT_EQ(p.integrity.flags, 0u);
}

TEST(FeatureFlags, NamesBitsInOrderAndUnknownOnesByNumber) {
  auto names = FeatureNames(abi::kFUserCopy | abi::kFCmdIoctlEncode | (1ULL << 40));
  ASSERT_EQ(names.size(), 3u);
  EXPECT_EQ(names[0], "CMD_IOCTL_ENCODE");
  EXPECT_EQ(names[1], "USER_COPY");
  EXPECT_EQ(names[2], "BIT_40");
}

TEST(FeatureFlags, DatalessTargetUsesUserCopyWhenTheKernelHasIt) {
  FlagChoice c = *ChooseFlags(abi::kFUserCopy | abi::kFCmdIoctlEncode,
                              DataAccess::kNone, ZeroCopy::kOff);
  EXPECT_TRUE(c.flags & abi::kFUserCopy);
  EXPECT_EQ(c.data_path, DataPath::kNone);
  c = *ChooseFlags(abi::kFCmdIoctlEncode, DataAccess::kNone, ZeroCopy::kOff);
  EXPECT_EQ(c.data_path, DataPath::kCopy);
  c = *ChooseFlags(abi::kFUserCopy | abi::kFCmdIoctlEncode, DataAccess::kBuffer,
                   ZeroCopy::kOff);
  EXPECT_FALSE(c.flags & abi::kFUserCopy);
  EXPECT_EQ(c.data_path, DataPath::kCopy);
}

constexpr uint64_t kKernel616 = abi::kFSupportZeroCopy | abi::kFUserCopy |
                                abi::kFCmdIoctlEncode | abi::kFAutoBufReg;
constexpr uint64_t kKernel612 = abi::kFUserCopy | abi::kFCmdIoctlEncode |
                                abi::kFUserRecoveryFailIo;

TEST(FeatureFlags, ZeroCopyAsksForAutoBufRegWithSupportZeroCopy) {
  auto c = ChooseFlags(kKernel616, DataAccess::kBuffer, ZeroCopy::kAuto);
  ASSERT_TRUE(c.ok()) << c.error().message();
  EXPECT_EQ(c->data_path, DataPath::kAutoBufReg);
  EXPECT_TRUE(c->flags & abi::kFAutoBufReg);
  EXPECT_TRUE(c->flags & abi::kFSupportZeroCopy);
  EXPECT_FALSE(c->flags & abi::kFUserCopy);
}

TEST(FeatureFlags, OffCopiesEvenWhereZeroCopyExists) {
  auto c = ChooseFlags(kKernel616, DataAccess::kBuffer, ZeroCopy::kOff);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->data_path, DataPath::kCopy);
  EXPECT_FALSE(c->flags & (abi::kFAutoBufReg | abi::kFSupportZeroCopy));
}

TEST(FeatureFlags, UnaskedTheServerPicksAutoWhereItExistsElseCopy) {
  auto c = ChooseFlags(kKernel616, DataAccess::kBuffer, ZeroCopy::kBest);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->data_path, DataPath::kAutoBufReg);
  c = ChooseFlags(kKernel612, DataAccess::kBuffer, ZeroCopy::kBest);
  ASSERT_TRUE(c.ok()) << c.error().message();
  EXPECT_EQ(c->data_path, DataPath::kCopy);
  EXPECT_FALSE(c->flags & (abi::kFAutoBufReg | abi::kFSupportZeroCopy));
}

TEST(FeatureFlags, ExplicitAsksForSupportZeroCopyWithoutAutoBufReg) {
  auto c = ChooseFlags(kKernel616, DataAccess::kBuffer, ZeroCopy::kExplicit);
  ASSERT_TRUE(c.ok()) << c.error().message();
  EXPECT_EQ(c->data_path, DataPath::kExplicitReg);
  EXPECT_TRUE(c->flags & abi::kFSupportZeroCopy);
  EXPECT_FALSE(c->flags & abi::kFAutoBufReg);
  c = ChooseFlags(kKernel612 | abi::kFSupportZeroCopy, DataAccess::kBuffer,
                  ZeroCopy::kExplicit);
  ASSERT_FALSE(c.ok());  // a 6.13-era SUPPORT_ZERO_COPY is not registration
  EXPECT_NE(c.error().message().find("6.15"), std::string::npos);
}

TEST(FeatureFlags, ZeroCopyOnAnOldKernelIsRefusedNamingFeatureAndVersion) {
  auto c = ChooseFlags(kKernel612, DataAccess::kBuffer, ZeroCopy::kAuto);
  ASSERT_FALSE(c.ok());
  const std::string m = c.error().message();
  EXPECT_NE(m.find("AUTO_BUF_REG"), std::string::npos) << m;
  EXPECT_NE(m.find("6.16"), std::string::npos) << m;
  EXPECT_EQ(m.find('\n'), std::string::npos);
}

TEST(FeatureFlags, ZeroCopyOnADatalessTargetStaysCopyFreeOrIsRefused) {
  // Where the kernel has zero copy, null's -z keeps its copy-free mode;
  // where it has none, -z is refused for null as for every target.
  auto c = ChooseFlags(kKernel612 | abi::kFAutoBufReg, DataAccess::kNone,
                       ZeroCopy::kAuto);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->data_path, DataPath::kNone);
  c = ChooseFlags(kKernel612, DataAccess::kNone, ZeroCopy::kAuto);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message().find("AUTO_BUF_REG"), std::string::npos);
  c = ChooseFlags(kKernel612, DataAccess::kNone, ZeroCopy::kBest);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->data_path, DataPath::kNone);
}

}  // namespace
}  // namespace ublk

namespace ublk {
namespace {

TEST(Params, ZonedCarriesZoneSizeLimitsAndAppendWithinMaxSectors) {
  DeviceGeometry g;
  g.size_bytes = 1ULL << 30;
  g.zoned.zone_sectors = 1u << 17;
  g.zoned.max_open = 4;
  g.zoned.max_active = 6;
  g.zoned.max_append_sectors = 4096;
  abi::Params p = BuildParams(g, 512 << 10, false);
  EXPECT_EQ(p.types, abi::kParamTypeBasic | abi::kParamTypeZoned);
  EXPECT_EQ(p.basic.chunk_sectors, 1u << 17);
  EXPECT_EQ(p.zoned.max_open_zones, 4u);
  EXPECT_EQ(p.zoned.max_active_zones, 6u);
  EXPECT_EQ(p.zoned.max_zone_append_sectors, 1024u);  // max_sectors
  g.zoned.max_append_sectors = 0;  // never 0: the kernel refuses it
  EXPECT_EQ(BuildParams(g, 512 << 10, false).zoned.max_zone_append_sectors,
            1024u);
  g.zoned.zone_sectors = 0;
  EXPECT_EQ(BuildParams(g, 512 << 10, false).types, abi::kParamTypeBasic);
}

}  // namespace
}  // namespace ublk

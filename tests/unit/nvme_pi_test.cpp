// NVMe metadata formats: which are served, the integrity profile the ublk
// device registers for them, and the protection fields of each Read/Write.
#include "nvme_pi.h"

#include <gtest/gtest.h>

#include "ublk/abi.h"

namespace ublk::nvme {
namespace {

PiFormat Describe(FormatFacts f) {
  auto pi = DescribePi(f, "/dev/ng0n1");
  EXPECT_TRUE(pi.ok()) << pi.error().message();
  return pi.ok() ? *pi : PiFormat{};
}

std::string Refusal(FormatFacts f) {
  auto pi = DescribePi(f, "/dev/ng0n1");
  EXPECT_FALSE(pi.ok());
  return pi.ok() ? "" : pi.error().message();
}

TEST(NvmePi, NoMetadataIsNoProfile) {
  PiFormat pi = Describe({});
  EXPECT_EQ(pi.ms, 0);
  EXPECT_EQ(ProfileFor(pi).metadata_size, 0);
  EXPECT_EQ(IntegrityFormatName(ProfileFor(pi)), "none");
}

// QEMU ms=8,pi=1: the kernel driver's T10-DIF-TYPE1-CRC with tag size 2.
TEST(NvmePi, Type1With8BytesIsT10DifType1CrcWithRefTag) {
  PiFormat pi = Describe({.ms = 8, .dps = 1});
  EXPECT_EQ(pi.pi_type, 1);
  EXPECT_EQ(pi.pi_size(), 8);
  IntegrityProfile p = ProfileFor(pi);
  EXPECT_EQ(p.metadata_size, 8);
  EXPECT_EQ(p.pi_offset, 0);
  EXPECT_EQ(p.csum_type, abi::kPiCsumCrc16T10Dif);
  EXPECT_EQ(p.tag_size, 2);
  EXPECT_EQ(p.flags, abi::kPiCapIntegrity | abi::kPiCapRefTag);
  EXPECT_EQ(IntegrityFormatName(p), "T10-DIF-TYPE1-CRC");
}

TEST(NvmePi, Type2IsReportedAsType1AndType3HasNoRefTag) {
  EXPECT_EQ(IntegrityFormatName(ProfileFor(Describe({.ms = 8, .dps = 2}))),
            "T10-DIF-TYPE1-CRC");
  IntegrityProfile p3 = ProfileFor(Describe({.ms = 8, .dps = 3}));
  EXPECT_EQ(IntegrityFormatName(p3), "T10-DIF-TYPE3-CRC");
  EXPECT_EQ(p3.flags, abi::kPiCapIntegrity);
  EXPECT_EQ(p3.tag_size, 6);  // application and reference tag
}

TEST(NvmePi, MetadataWithoutPiIsNop) {
  IntegrityProfile p = ProfileFor(Describe({.ms = 8}));
  EXPECT_EQ(p.metadata_size, 8);
  EXPECT_EQ(p.csum_type, abi::kPiCsumNone);
  EXPECT_EQ(p.flags, 0u);
  EXPECT_EQ(p.tag_size, 0);
  EXPECT_EQ(IntegrityFormatName(p), "nop");
}

// 16 bytes of metadata with an 8-byte tuple: first or last 8 bytes (DPS
// bit 3).
TEST(NvmePi, PiLocationFollowsDpsBit3) {
  EXPECT_EQ(ProfileFor(Describe({.ms = 16, .dps = 1})).pi_offset, 8);
  EXPECT_EQ(ProfileFor(Describe({.ms = 16, .dps = 1 | 8})).pi_offset, 0);
}

TEST(NvmePi, SixtyFourBitGuardIsCrc64) {
  PiFormat pi = Describe({.ms = 16, .dps = 1, .pif = 2});
  EXPECT_TRUE(pi.guard64);
  IntegrityProfile p = ProfileFor(pi);
  EXPECT_EQ(p.csum_type, abi::kPiCsumCrc64Nvme);
  EXPECT_EQ(p.pi_offset, 0);
  EXPECT_EQ(IntegrityFormatName(p), "EXT-DIF-TYPE1-CRC64");
  EXPECT_EQ(ProfileFor(Describe({.ms = 16, .dps = 3, .pif = 2})).tag_size, 8);
}

TEST(NvmePi, RefusesWhatIsNotServedInOneLine) {
  EXPECT_NE(Refusal({.ms = 8, .extended = true, .dps = 1}).find("FLBAS bit 4"),
            std::string::npos);
  EXPECT_NE(Refusal({.ms = 64}).find("only 8 or 16 bytes"), std::string::npos);
  EXPECT_NE(Refusal({.ms = 16, .dps = 1, .pif = 1}).find("32-bit guard"),
            std::string::npos);
  EXPECT_NE(Refusal({.ms = 16, .dps = 1, .pif = 2, .sts = 8}).find("storage tag"),
            std::string::npos);
  EXPECT_NE(Refusal({.ms = 8, .dps = 1, .pif = 2}).find("too few"),
            std::string::npos);
  for (const std::string& line :
       {Refusal({.ms = 8, .extended = true}), Refusal({.ms = 4})}) {
    EXPECT_EQ(line.find('\n'), std::string::npos);
    EXPECT_NE(line.find("/dev/ng0n1"), std::string::npos);
  }
}

// As the kernel driver's nvme_setup_rw: guard and reference tag checked
// for type 1/2, the tag = the LBA's lower 32 bits in CDW14.
TEST(NvmePi, Type1ReadWriteChecksGuardAndRefTagWithTheLba) {
  PiFormat pi = Describe({.ms = 8, .dps = 1});
  UringCmd c = BuildReadWrite(true, 1, 0x123456789ULL, 8, 0x1000, 4096, false);
  ApplyProtection(&c, pi, ProtectionFor(pi, true), 0x123456789ULL, 0xabc000,
                  64);
  EXPECT_EQ(c.cdw12 & (kCdw12PrchkGuard | kCdw12PrchkRef | kCdw12PrchkApp |
                       kCdw12Pract),
            kCdw12PrchkGuard | kCdw12PrchkRef);
  EXPECT_EQ(c.cdw12 & 0xffff, 7u);  // the block count stays
  EXPECT_EQ(c.cdw14, 0x23456789u);
  EXPECT_EQ(c.cdw3, 0u);
  EXPECT_EQ(c.metadata, 0xabc000u);
  EXPECT_EQ(c.metadata_len, 64u);
  EXPECT_EQ(c.addr, 0x1000u);
}

TEST(NvmePi, Type3ChecksOnlyTheGuard) {
  PiFormat pi = Describe({.ms = 8, .dps = 3});
  UringCmd c = BuildReadWrite(false, 1, 42, 1, 0, 512, false);
  ApplyProtection(&c, pi, ProtectionFor(pi, true), 42, 0x5000, 8);
  EXPECT_EQ(c.cdw12 & ~0xffffu, kCdw12PrchkGuard);
  EXPECT_EQ(c.cdw14, 0u);
  EXPECT_EQ(c.metadata_len, 8u);
}

TEST(NvmePi, MetadataWithoutPiIsSentWithoutPrinfo) {
  PiFormat pi = Describe({.ms = 8});
  UringCmd c = BuildReadWrite(true, 1, 42, 2, 0, 1024, false);
  ApplyProtection(&c, pi, ProtectionFor(pi, true), 42, 0x5000, 16);
  EXPECT_EQ(c.cdw12 & ~0xffffu, 0u);
  EXPECT_EQ(c.cdw14, 0u);
  EXPECT_EQ(c.metadata, 0x5000u);
  EXPECT_EQ(c.metadata_len, 16u);
  // Without the block layer's payload it still needs its buffer.
  EXPECT_TRUE(ProtectionFor(pi, false).metadata);
}

// No integrity payload on a PI namespace: the controller generates and
// strips the PI (PRACT); an 8-byte PI-only format then moves no metadata.
TEST(NvmePi, WithoutPayloadThePiIsTheControllers) {
  PiFormat pi = Describe({.ms = 8, .dps = 1});
  Protection p = ProtectionFor(pi, false);
  EXPECT_EQ(p.cdw12, kCdw12Pract);
  EXPECT_FALSE(p.metadata);
  EXPECT_TRUE(p.ref_tag);
  EXPECT_TRUE(ProtectionFor(Describe({.ms = 16, .dps = 1}), false).metadata);
}

// A 64-bit guard's tuple has a 48-bit reference tag: bits 32-47 in CDW3.
TEST(NvmePi, SixtyFourBitGuardPutsTheRefTagHighBitsInCdw3) {
  PiFormat pi = Describe({.ms = 16, .dps = 1, .pif = 2});
  UringCmd c = BuildReadWrite(true, 1, 0xABCD12345678ULL, 1, 0, 512, false);
  ApplyProtection(&c, pi, ProtectionFor(pi, true), 0xABCD12345678ULL, 0x5000,
                  16);
  EXPECT_EQ(c.cdw14, 0x12345678u);
  EXPECT_EQ(c.cdw3, 0xABCDu);
}

TEST(NvmeStatus, ProtectionErrorsAreEilseq) {
  EXPECT_EQ(StatusToErrno(0x0282), -EILSEQ);  // guard check
  EXPECT_EQ(StatusToErrno(0x0283), -EILSEQ);  // application tag check
  EXPECT_EQ(StatusToErrno(0x0284), -EILSEQ);  // reference tag check
  // With the DNR and MORE bits the controller may set beside them.
  EXPECT_EQ(StatusToErrno(0x4282), -EILSEQ);
  EXPECT_EQ(StatusToErrno(0x6284), -EILSEQ);
}

}  // namespace
}  // namespace ublk::nvme

#include "nvme_pi.h"

#include "ublk/abi.h"

namespace ublk::nvme {

Result<PiFormat> DescribePi(const FormatFacts& f,
                              const std::string& path) {
  PiFormat pi;
  if (f.ms == 0) return pi;
  const std::string what =
      path + " is formatted with " + std::to_string(f.ms) +
      " bytes of metadata per block";
  if (f.extended)
    return Invalid(what + " interleaved with the data (extended LBA, FLBAS "
                          "bit 4); only a separate metadata buffer is served");
  if (f.ms != 8 && f.ms != 16)
    return Invalid(what + "; only 8 or 16 bytes are served");
  pi.ms = static_cast<uint8_t>(f.ms);
  pi.pi_type = f.dps & 0x7;
  pi.pi_first = f.dps & 0x8;
  if (pi.pi_type > 3)
    return Invalid(what + " and protection information type " +
                   std::to_string(pi.pi_type) + ", which NVMe does not define");
  if (pi.pi_type == 0) return pi;
  // ELBAF PIF: 0 16-bit guard, 1 32-bit guard, 2 64-bit guard.
  if (f.pif == 1 || f.pif > 2)
    return Invalid(what + " and a " +
                   std::string(f.pif == 1 ? "32-bit guard" : "reserved") +
                   " protection information format; only 16-bit (T10-DIF) "
                   "and 64-bit (CRC64) guards are served");
  pi.guard64 = f.pif == 2;
  if (f.sts != 0)
    return Invalid(what + " and a " + std::to_string(f.sts) +
                   "-bit storage tag in its protection information, which is "
                   "not served");
  if (pi.ms < pi.pi_size())
    return Invalid(what + ", too few for its " +
                   std::to_string(pi.pi_size()) +
                   "-byte protection information");
  return pi;
}

IntegrityProfile ProfileFor(const PiFormat& pi) {
  IntegrityProfile p;
  p.metadata_size = pi.ms;
  if (pi.ms == 0 || pi.pi_type == 0) return p;
  p.pi_offset = pi.pi_offset();
  p.csum_type = pi.guard64 ? abi::kPiCsumCrc64Nvme : abi::kPiCsumCrc16T10Dif;
  p.flags = abi::kPiCapIntegrity;
  if (pi.pi_type == 3) {
    // No reference tag: it and the application tag are the application's.
    p.tag_size = pi.guard64 ? 2 + 6 : 2 + 4;
  } else {
    p.flags |= abi::kPiCapRefTag;
    p.tag_size = 2;
  }
  return p;
}

Protection ProtectionFor(const PiFormat& pi, bool payload) {
  Protection p;
  if (pi.ms == 0) return p;
  if (pi.pi_type == 0) {
    p.metadata = true;  // opaque: stored and returned, never checked
    return p;
  }
  const bool ref = pi.pi_type != 3;
  if (!payload) {
    p.cdw12 = kCdw12Pract;
    // The controller then generates the reference tag from this one.
    p.ref_tag = ref;
    p.metadata = pi.ms > pi.pi_size();
    return p;
  }
  p.metadata = true;
  p.cdw12 = kCdw12PrchkGuard;
  if (ref) {
    p.cdw12 |= kCdw12PrchkRef;
    p.ref_tag = true;
  }
  return p;
}

void ApplyProtection(UringCmd* cmd, const PiFormat& pi,
                     const Protection& p, uint64_t slba, uint64_t meta_addr,
                     uint32_t meta_len) {
  cmd->cdw12 |= p.cdw12;
  if (p.metadata) {
    cmd->metadata = meta_addr;
    cmd->metadata_len = meta_len;
  }
  if (p.ref_tag) {
    // The block layer seeds the tag with the device's LBA, which is the
    // namespace's: lower 32 bits in CDW14; a 64-bit guard's tuple has a
    // 48-bit tag whose upper 16 bits go in CDW3.
    cmd->cdw14 = static_cast<uint32_t>(slba);
    if (pi.guard64) cmd->cdw3 = static_cast<uint32_t>(slba >> 32) & 0xffff;
  }
}

}  // namespace ublk::nvme

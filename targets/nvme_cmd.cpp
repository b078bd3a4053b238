#include "nvme_cmd.h"

#include <cerrno>

namespace ublk::nvme {
namespace {

UringCmd Base(uint8_t opcode, uint32_t nsid) {
  UringCmd c{};
  c.opcode = opcode;
  c.nsid = nsid;
  return c;
}

void SetRange(UringCmd* c, uint64_t slba, uint32_t blocks) {
  c->cdw10 = static_cast<uint32_t>(slba);
  c->cdw11 = static_cast<uint32_t>(slba >> 32);
  c->cdw12 = (blocks - 1) & 0xffff;  // 0-based
}

}  // namespace

UringCmd BuildReadWrite(bool write, uint32_t nsid, uint64_t slba,
                        uint32_t blocks, uint64_t addr, uint32_t bytes,
                        bool fua) {
  UringCmd c = Base(write ? kOpWrite : kOpRead, nsid);
  c.addr = addr;
  c.data_len = bytes;
  SetRange(&c, slba, blocks);
  if (fua) c.cdw12 |= kCdw12Fua;
  return c;
}

UringCmd BuildFlush(uint32_t nsid) { return Base(kOpFlush, nsid); }

UringCmd BuildWriteZeroes(uint32_t nsid, uint64_t slba, uint32_t blocks,
                          bool deallocate) {
  UringCmd c = Base(kOpWriteZeroes, nsid);
  SetRange(&c, slba, blocks);
  if (deallocate) c.cdw12 |= kCdw12Deallocate;
  return c;
}

UringCmd BuildDeallocate(uint32_t nsid, uint64_t slba, uint32_t blocks,
                         DsmRange* range) {
  *range = DsmRange{0, blocks, slba};
  UringCmd c = Base(kOpDatasetMgmt, nsid);
  c.addr = reinterpret_cast<uintptr_t>(range);
  c.data_len = sizeof(*range);
  c.cdw10 = 0;  // one range (0-based count)
  c.cdw11 = kDsmDeallocate;
  return c;
}

// The errnos are chosen so that ublk_drv's errno_to_blk_status gives the
// block layer the same status the kernel's own NVMe driver would: media
// errors -> BLK_STS_MEDIUM (-ENODATA), protection -> -EILSEQ, path errors ->
// BLK_STS_TRANSPORT (-ENOLINK), capacity -> -ENOSPC, LBA out of range ->
// BLK_STS_TARGET (-EREMOTEIO), reservation conflict -> -EBADE.
int StatusToErrno(int res) {
  if (res <= 0) return res;
  const int sc = res & 0xff;
  const int sct = (res >> 8) & 0x7;
  switch (sct) {
    case 0:  // generic command status
      switch (sc) {
        case 0x01: return -EOPNOTSUPP;  // invalid opcode
        case 0x02: return -EINVAL;      // invalid field
        case 0x0b: return -ENODEV;      // invalid namespace or format
        case 0x80: return -EREMOTEIO;   // LBA out of range
        case 0x81: return -ENOSPC;      // capacity exceeded
        case 0x82: return -EAGAIN;      // namespace not ready
        case 0x83: return -EBADE;       // reservation conflict
        default: return -EIO;           // data transfer, aborts, internal
      }
    case 1:  // command specific
      // Zoned namespaces: the kernel's NVMe driver gives the block layer
      // BLK_STS_ZONE_ACTIVE_RESOURCE / _OPEN_RESOURCE for too many active or
      // open zones and BLK_STS_IOERR for the rest (zone boundary 0xb8,
      // full 0xb9, read-only 0xba, offline 0xbb, invalid write 0xbc,
      // invalid state transition 0xbf), as errno_to_blk_status maps these.
      switch (sc) {
        case 0xbd: return -EOVERFLOW;     // too many active zones
        case 0xbe: return -ETOOMANYREFS;  // too many open zones
        default: return -EIO;
      }
    case 2:  // media and data integrity
      switch (sc) {
        case 0x80: return -EIO;      // write fault
        case 0x81: return -ENODATA;  // unrecovered read error
        case 0x82:                   // guard check
        case 0x83:                   // application tag check
        case 0x84:                   // reference tag check
        case 0x85: return -EILSEQ;   // compare failure
        case 0x86: return -EACCES;   // access denied
        default: return -EIO;
      }
    case 3:  // path related
      return -ENOLINK;
    default:
      return -EIO;
  }
}

}  // namespace ublk::nvme

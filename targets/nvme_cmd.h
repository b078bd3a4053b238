// NVMe I/O passthrough commands, built by pure functions.
//
// The layout of the kernel's io_uring NVMe passthrough payload (72 bytes in
// the big SQE's command area) and the NVM command set opcodes, defined here
// from the specification. Builders fill one command; nothing is sent. The
// status mapping turns a passthrough completion into the negative errno a
// ublk completion carries.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ublk::nvme {

// struct nvme_uring_cmd (Linux 5.19+), in sqe->cmd of a 128-byte SQE.
struct UringCmd {
  uint8_t opcode;
  uint8_t flags;
  uint16_t rsvd1;
  uint32_t nsid;
  uint32_t cdw2;
  uint32_t cdw3;
  uint64_t metadata;
  uint64_t addr;
  uint32_t metadata_len;
  uint32_t data_len;
  uint32_t cdw10;
  uint32_t cdw11;
  uint32_t cdw12;
  uint32_t cdw13;
  uint32_t cdw14;
  uint32_t cdw15;
  uint32_t timeout_ms;
  uint32_t rsvd2;
};
static_assert(sizeof(UringCmd) == 72);
static_assert(offsetof(UringCmd, nsid) == 4);
static_assert(offsetof(UringCmd, addr) == 24);
static_assert(offsetof(UringCmd, data_len) == 36);
static_assert(offsetof(UringCmd, cdw10) == 40);
static_assert(offsetof(UringCmd, timeout_ms) == 64);

// NVME_URING_CMD_IO: _IOWR('N', 0x80, struct nvme_uring_cmd).
inline constexpr uint32_t kUringCmdIo = 0xC0484E80;

inline constexpr uint8_t kOpFlush = 0x00;
inline constexpr uint8_t kOpWrite = 0x01;
inline constexpr uint8_t kOpRead = 0x02;
inline constexpr uint8_t kOpWriteZeroes = 0x08;
inline constexpr uint8_t kOpDatasetMgmt = 0x09;

inline constexpr uint32_t kCdw12Fua = 1u << 30;
inline constexpr uint32_t kCdw12Deallocate = 1u << 25;  // Write Zeroes DEAC
inline constexpr uint32_t kDsmDeallocate = 1u << 2;     // DSM CDW11 AD
inline constexpr uint32_t kMaxBlocksPerCmd = 1u << 16;  // NLB is 16 bits
// Read/Write CDW12 PRINFO [29:26]: check the reference tag, the
// application tag, the guard; PRACT: the controller inserts (write) or
// strips (read) the PI itself.
inline constexpr uint32_t kCdw12PrchkRef = 1u << 26;
inline constexpr uint32_t kCdw12PrchkApp = 1u << 27;
inline constexpr uint32_t kCdw12PrchkGuard = 1u << 28;
inline constexpr uint32_t kCdw12Pract = 1u << 29;

// One Dataset Management range (16 bytes, little endian on x86).
struct DsmRange {
  uint32_t cattr;
  uint32_t nlb;  // 1-based
  uint64_t slba;
};
static_assert(sizeof(DsmRange) == 16);

// Read or Write of `blocks` logical blocks at `slba` into/from `addr`
// (a user address, or the offset in a registered kernel buffer).
UringCmd BuildReadWrite(bool write, uint32_t nsid, uint64_t slba,
                        uint32_t blocks, uint64_t addr, uint32_t bytes,
                        bool fua);
UringCmd BuildFlush(uint32_t nsid);
// `deallocate` lets the controller unmap the range (no NOUNMAP from above).
UringCmd BuildWriteZeroes(uint32_t nsid, uint64_t slba, uint32_t blocks,
                          bool deallocate);
// One deallocate range, described by *range (filled here; must stay valid
// until the command completes).
UringCmd BuildDeallocate(uint32_t nsid, uint64_t slba, uint32_t blocks,
                         DsmRange* range);

// Passthrough completion (cqe->res) to a negative errno, 0 on success:
// negative values are errnos already; positive ones are the NVMe status
// (SC in bits 0-7, SCT in bits 8-10). See nvme_cmd.cpp for the table.
int StatusToErrno(int res);

}  // namespace ublk::nvme

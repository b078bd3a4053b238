// The ublk_drv user-space ABI, defined here from the documented facts.
//
// Layouts and numbers are those of the kernel's UAPI (control commands over
// /dev/ublk-control, I/O commands and descriptors on /dev/ublkcN, parameters,
// feature flags). Every struct carries static_asserts on its size and on the
// offsets the kernel reads, so a layout mistake fails the build, not a device.
// Pure data: no I/O, safe from any thread.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ublk::abi {

// ioctl-style encoding of command numbers (generic _IOC layout: dir in bits
// 30-31, size in 16-29, type in 8-15, number in 0-7).
inline constexpr uint32_t kIocWrite = 1;
inline constexpr uint32_t kIocRead = 2;
constexpr uint32_t Ioc(uint32_t dir, char type, uint32_t nr, uint32_t size) {
  return (dir << 30) | (size << 16) | (static_cast<uint32_t>(type) << 8) | nr;
}

// --- Control path -----------------------------------------------------------

// The 32-byte payload of a control command, carried in sqe->cmd.
struct CtrlCmd {
  uint32_t dev_id;
  uint16_t queue_id;
  uint16_t len;
  uint64_t addr;
  uint64_t data[1];
  uint16_t dev_path_len;
  uint16_t pad;
  uint32_t reserved;
};
static_assert(sizeof(CtrlCmd) == 32);
static_assert(offsetof(CtrlCmd, queue_id) == 4);
static_assert(offsetof(CtrlCmd, len) == 6);
static_assert(offsetof(CtrlCmd, addr) == 8);
static_assert(offsetof(CtrlCmd, data) == 16);
static_assert(offsetof(CtrlCmd, dev_path_len) == 24);

inline constexpr uint32_t kNewDevId = UINT32_MAX;  // ADD_DEV: kernel picks
inline constexpr uint16_t kNoQueue = 0xFFFF;

constexpr uint32_t CtrlRead(uint32_t nr) {
  return Ioc(kIocRead, 'u', nr, sizeof(CtrlCmd));
}
constexpr uint32_t CtrlReadWrite(uint32_t nr) {
  return Ioc(kIocRead | kIocWrite, 'u', nr, sizeof(CtrlCmd));
}

inline constexpr uint32_t kCmdGetQueueAffinity = CtrlRead(0x01);
inline constexpr uint32_t kCmdGetDevInfo = CtrlRead(0x02);
inline constexpr uint32_t kCmdAddDev = CtrlReadWrite(0x04);
inline constexpr uint32_t kCmdDelDev = CtrlReadWrite(0x05);
inline constexpr uint32_t kCmdStartDev = CtrlReadWrite(0x06);
inline constexpr uint32_t kCmdStopDev = CtrlReadWrite(0x07);
inline constexpr uint32_t kCmdSetParams = CtrlReadWrite(0x08);
inline constexpr uint32_t kCmdGetParams = CtrlRead(0x09);
inline constexpr uint32_t kCmdStartUserRecovery = CtrlReadWrite(0x10);
inline constexpr uint32_t kCmdEndUserRecovery = CtrlReadWrite(0x11);
inline constexpr uint32_t kCmdGetDevInfo2 = CtrlRead(0x12);
inline constexpr uint32_t kCmdGetFeatures = CtrlRead(0x13);
inline constexpr uint32_t kCmdDelDevAsync = CtrlRead(0x14);
// UPDATE_SIZE (6.16, UBLK_F_UPDATE_SIZE): data[0] = new size in sectors.
inline constexpr uint32_t kCmdUpdateSize = CtrlReadWrite(0x15);
// QUIESCE_DEV (6.16, UBLK_F_QUIESCE): data[0] = timeout in ms (0: none);
// completes in-flight I/O, aborts the fetches, leaves the device QUIESCED.
inline constexpr uint32_t kCmdQuiesceDev = CtrlReadWrite(0x16);
// TRY_STOP_DEV (7.0, UBLK_F_SAFE_STOP_DEV): STOP_DEV only while nobody has
// /dev/ublkbN open; -EBUSY otherwise, and nothing changes.
inline constexpr uint32_t kCmdTryStopDev = CtrlReadWrite(0x17);
// SHMEM_ZC (7.1): REG_BUF pins a range of the server's memory for the
// device and answers its index (>= 0); addr/len point at a ShmemBufReg.
// UNREG_BUF takes the index in data[0]; the kernel drops what is left at
// device deletion.
inline constexpr uint32_t kCmdRegBuf = CtrlReadWrite(0x18);
inline constexpr uint32_t kCmdUnregBuf = CtrlReadWrite(0x19);
static_assert(kCmdGetDevInfo == 0x80207502);
static_assert(kCmdAddDev == 0xC0207504);
static_assert(kCmdDelDevAsync == 0x80207514);
static_assert(kCmdUpdateSize == 0xC0207515);
static_assert(kCmdQuiesceDev == 0xC0207516);
static_assert(kCmdTryStopDev == 0xC0207517);
static_assert(kCmdRegBuf == 0xC0207518);

// REG_BUF's payload. The first 7.1 drafts had a 32-bit len followed by the
// flags; the released layout widened len to 64 bits and added a reserved
// word. For a buffer under 4 GiB the first 16 bytes read the same either way.
struct ShmemBufReg {
  uint64_t addr;   // page-aligned start in the server's address space
  uint64_t len;    // bytes, page-aligned
  uint32_t flags;  // kShmemBufReadOnly
  uint32_t reserved;
};
static_assert(sizeof(ShmemBufReg) == 24);
inline constexpr uint32_t kShmemBufReadOnly = 1u << 0;

// Device information exchanged by ADD_DEV and GET_DEV_INFO (64 bytes).
struct DevInfo {
  uint16_t nr_hw_queues;
  uint16_t queue_depth;
  uint16_t state;
  uint16_t pad0;
  uint32_t max_io_buf_bytes;
  uint32_t dev_id;
  int32_t ublksrv_pid;
  uint32_t pad1;
  uint64_t flags;
  uint64_t ublksrv_flags;
  uint32_t owner_uid;
  uint32_t owner_gid;
  uint64_t reserved1;
  uint64_t reserved2;
};
static_assert(sizeof(DevInfo) == 64);
static_assert(offsetof(DevInfo, state) == 4);
static_assert(offsetof(DevInfo, max_io_buf_bytes) == 8);
static_assert(offsetof(DevInfo, dev_id) == 12);
static_assert(offsetof(DevInfo, ublksrv_pid) == 16);
static_assert(offsetof(DevInfo, flags) == 24);
static_assert(offsetof(DevInfo, ublksrv_flags) == 32);
static_assert(offsetof(DevInfo, owner_uid) == 40);

inline constexpr uint16_t kStateDead = 0;
inline constexpr uint16_t kStateLive = 1;
inline constexpr uint16_t kStateQuiesced = 2;
inline constexpr uint16_t kStateFailIo = 3;

inline constexpr uint16_t kMaxQueues = 4096;
inline constexpr uint16_t kMaxQueueDepth = 4096;

// --- Feature flags (UBLK_F_*) ----------------------------------------------

inline constexpr uint64_t kFSupportZeroCopy = 1ULL << 0;
inline constexpr uint64_t kFUringCmdCompInTask = 1ULL << 1;
inline constexpr uint64_t kFNeedGetData = 1ULL << 2;
inline constexpr uint64_t kFUserRecovery = 1ULL << 3;
inline constexpr uint64_t kFUserRecoveryReissue = 1ULL << 4;
inline constexpr uint64_t kFUnprivilegedDev = 1ULL << 5;
inline constexpr uint64_t kFCmdIoctlEncode = 1ULL << 6;
inline constexpr uint64_t kFUserCopy = 1ULL << 7;
inline constexpr uint64_t kFZoned = 1ULL << 8;
inline constexpr uint64_t kFUserRecoveryFailIo = 1ULL << 9;
inline constexpr uint64_t kFUpdateSize = 1ULL << 10;
inline constexpr uint64_t kFAutoBufReg = 1ULL << 11;
inline constexpr uint64_t kFQuiesce = 1ULL << 12;
inline constexpr uint64_t kFPerIoDaemon = 1ULL << 13;
inline constexpr uint64_t kFBufRegOffDaemon = 1ULL << 14;
inline constexpr uint64_t kFBatchIo = 1ULL << 15;
inline constexpr uint64_t kFIntegrity = 1ULL << 16;
inline constexpr uint64_t kFSafeStopDev = 1ULL << 17;
inline constexpr uint64_t kFNoAutoPartScan = 1ULL << 18;
inline constexpr uint64_t kFShmemZc = 1ULL << 19;

// --- Parameters (SET_PARAMS / GET_PARAMS) -----------------------------------

inline constexpr uint32_t kParamTypeBasic = 1u << 0;
inline constexpr uint32_t kParamTypeDiscard = 1u << 1;
inline constexpr uint32_t kParamTypeDevt = 1u << 2;
inline constexpr uint32_t kParamTypeZoned = 1u << 3;
inline constexpr uint32_t kParamTypeDmaAlign = 1u << 4;
inline constexpr uint32_t kParamTypeSegment = 1u << 5;
inline constexpr uint32_t kParamTypeIntegrity = 1u << 6;  // 7.0, INTEGRITY

inline constexpr uint32_t kAttrReadOnly = 1u << 0;
inline constexpr uint32_t kAttrRotational = 1u << 1;
inline constexpr uint32_t kAttrVolatileCache = 1u << 2;
inline constexpr uint32_t kAttrFua = 1u << 3;

struct ParamBasic {
  uint32_t attrs;
  uint8_t logical_bs_shift;
  uint8_t physical_bs_shift;
  uint8_t io_opt_shift;
  uint8_t io_min_shift;
  uint32_t max_sectors;
  uint32_t chunk_sectors;
  uint64_t dev_sectors;
  uint64_t virt_boundary_mask;
};
static_assert(sizeof(ParamBasic) == 32);
static_assert(offsetof(ParamBasic, max_sectors) == 8);
static_assert(offsetof(ParamBasic, dev_sectors) == 16);

struct ParamDiscard {
  uint32_t discard_alignment;
  uint32_t discard_granularity;
  uint32_t max_discard_sectors;
  uint32_t max_write_zeroes_sectors;
  uint16_t max_discard_segments;
  uint16_t reserved0;
};
static_assert(sizeof(ParamDiscard) == 20);

struct ParamDevt {
  uint32_t char_major;
  uint32_t char_minor;
  uint32_t disk_major;
  uint32_t disk_minor;
};
static_assert(sizeof(ParamDevt) == 16);

struct ParamZoned {
  uint32_t max_open_zones;
  uint32_t max_active_zones;
  uint32_t max_zone_append_sectors;
  uint8_t reserved[20];
};
static_assert(sizeof(ParamZoned) == 32);

struct ParamDmaAlign {
  uint32_t alignment;
  uint8_t pad[4];
};
static_assert(sizeof(ParamDmaAlign) == 8);

struct ParamSegment {
  uint64_t seg_boundary_mask;
  uint32_t max_segment_size;
  uint16_t max_segments;
  uint8_t pad[2];
};
static_assert(sizeof(ParamSegment) == 16);

// INTEGRITY (7.0): the device's metadata per protection interval, as the
// block layer's integrity profile. The flags and checksum values are those
// of the block metadata ioctl (LBMD_PI_* in linux/fs.h).
struct ParamIntegrity {
  uint32_t flags;                   // kPiCap*
  uint16_t max_integrity_segments;  // 0: no limit
  uint8_t interval_exp;             // log2 of the interval (9..logical)
  uint8_t metadata_size;            // bytes per interval, non-zero
  uint8_t pi_offset;                // of the PI tuple inside the metadata
  uint8_t csum_type;                // kPiCsum*
  uint8_t tag_size;                 // application-owned tag bytes
  uint8_t pad[5];
};
static_assert(sizeof(ParamIntegrity) == 16);
static_assert(offsetof(ParamIntegrity, interval_exp) == 6);
static_assert(offsetof(ParamIntegrity, tag_size) == 10);

// ParamIntegrity::flags: the device checks the PI itself (block layer
// DEVICE_CAPABLE) / the PI carries a reference tag (type 1 and 2).
inline constexpr uint32_t kPiCapIntegrity = 1u << 0;
inline constexpr uint32_t kPiCapRefTag = 1u << 1;
// ParamIntegrity::csum_type: the guard's checksum.
inline constexpr uint8_t kPiCsumNone = 0;
inline constexpr uint8_t kPiCsumIp = 1;
inline constexpr uint8_t kPiCsumCrc16T10Dif = 2;
inline constexpr uint8_t kPiCsumCrc64Nvme = 4;

// The layout up to INTEGRITY (7.0). The kernel copies min(len, its own
// size), so older kernels read the prefix they know and ignore the rest.
struct Params {
  uint32_t len;
  uint32_t types;
  ParamBasic basic;
  ParamDiscard discard;
  ParamDevt devt;
  ParamZoned zoned;
  ParamDmaAlign dma;
  ParamSegment seg;
  ParamIntegrity integrity;
};
static_assert(offsetof(Params, basic) == 8);
static_assert(offsetof(Params, discard) == 40);
static_assert(offsetof(Params, devt) == 60);
static_assert(offsetof(Params, zoned) == 76);
static_assert(offsetof(Params, dma) == 108);
static_assert(offsetof(Params, seg) == 120);
static_assert(offsetof(Params, integrity) == 136);
static_assert(sizeof(Params) == 152);

// --- I/O path (/dev/ublkcN) -------------------------------------------------

// One per tag in the queue's mmap'ed descriptor array (read-only mapping).
struct IoDesc {
  uint32_t op_flags;  // bits 0-7 op, 8-31 flags
  uint32_t nr_sectors;
  uint64_t start_sector;
  uint64_t addr;
};
static_assert(sizeof(IoDesc) == 24);
static_assert(offsetof(IoDesc, start_sector) == 8);
static_assert(offsetof(IoDesc, addr) == 16);

inline constexpr uint8_t kOpRead = 0;
inline constexpr uint8_t kOpWrite = 1;
inline constexpr uint8_t kOpFlush = 2;
inline constexpr uint8_t kOpDiscard = 3;
inline constexpr uint8_t kOpWriteSame = 4;
inline constexpr uint8_t kOpWriteZeroes = 5;
// Zoned devices (UBLK_F_ZONED).
inline constexpr uint8_t kOpZoneOpen = 10;
inline constexpr uint8_t kOpZoneClose = 11;
inline constexpr uint8_t kOpZoneFinish = 12;
inline constexpr uint8_t kOpZoneAppend = 13;
inline constexpr uint8_t kOpZoneResetAll = 14;
inline constexpr uint8_t kOpZoneReset = 15;
// nr_sectors holds the number of zones asked for; the answer is an array of
// BlkZone written to the request through /dev/ublkcN.
inline constexpr uint8_t kOpReportZones = 18;

// struct blk_zone: one zone of a REPORT_ZONES answer, in 512-byte sectors.
struct BlkZone {
  uint64_t start;
  uint64_t len;
  uint64_t wp;
  uint8_t type;  // kZoneType*
  uint8_t cond;  // kZoneCond*
  uint8_t non_seq;
  uint8_t reset;
  uint8_t resv[4];
  uint64_t capacity;
  uint8_t reserved[24];
};
static_assert(sizeof(BlkZone) == 64);
static_assert(offsetof(BlkZone, type) == 24);
static_assert(offsetof(BlkZone, capacity) == 32);
inline constexpr uint8_t kZoneTypeConventional = 1;
inline constexpr uint8_t kZoneTypeSeqWriteRequired = 2;
inline constexpr uint8_t kZoneCondFull = 0xe;

// Flags in op_flags, at their in-word positions (test without shifting).
inline constexpr uint32_t kIoFFua = 1u << 13;
inline constexpr uint32_t kIoFNoUnmap = 1u << 15;
// Automatic buffer registration failed for this request (only with
// kAutoBufRegFallback): the server must register the buffer itself.
inline constexpr uint32_t kIoFNeedRegBuf = 1u << 17;
// INTEGRITY: the request carries an integrity buffer (user copy at
// UserCopyIntegrityOffset).
inline constexpr uint32_t kIoFIntegrity = 1u << 18;
// SHMEM_ZC: the request's pages lie in a buffer registered with REG_BUF;
// IoDesc::addr then holds that buffer's index (bits 32-47) and the byte
// offset into it (bits 0-31).
inline constexpr uint32_t kIoFShmemZc = 1u << 19;
constexpr uint16_t ShmemZcIndex(uint64_t addr) {
  return static_cast<uint16_t>(addr >> 32);
}
constexpr uint32_t ShmemZcOffset(uint64_t addr) {
  return static_cast<uint32_t>(addr);
}

constexpr uint8_t DescOp(const IoDesc& d) { return d.op_flags & 0xff; }

// Per-queue descriptor array: offset q * round_up(kMaxQueueDepth * 24, page).
inline constexpr uint64_t kCmdBufOffset = 0;

// USER_COPY (6.5): a request's data is read (WRITE) or written (READ) with
// pread/pwrite on /dev/ublkcN at this offset: a fixed base, the queue id
// from bit 41, the tag from bit 25, the byte within the request below (so a
// request moves at most 32 MiB this way).
inline constexpr uint64_t kUserCopyBase = 0x80000000ULL;
inline constexpr unsigned kUserCopyTagShift = 25;
inline constexpr unsigned kUserCopyQueueShift = kUserCopyTagShift + 16;
inline constexpr uint32_t kUserCopyMaxBytes = 1u << kUserCopyTagShift;
constexpr uint64_t UserCopyOffset(uint16_t q_id, uint16_t tag,
                                  uint32_t byte) {
  return kUserCopyBase + (static_cast<uint64_t>(q_id) << kUserCopyQueueShift) +
         (static_cast<uint64_t>(tag) << kUserCopyTagShift) + byte;
}
static_assert(UserCopyOffset(1, 2, 3) == 0x80000000ULL + (1ULL << 41) +
                                             (2ULL << 25) + 3);
// INTEGRITY (7.0): bit 62 of the offset selects the request's integrity
// buffer instead of its data; `byte` counts within that buffer.
inline constexpr uint64_t kUserCopyIntegrity = 1ULL << 62;
constexpr uint64_t UserCopyIntegrityOffset(uint16_t q_id, uint16_t tag,
                                           uint32_t byte) {
  return UserCopyOffset(q_id, tag, byte) | kUserCopyIntegrity;
}

// The 16-byte payload of an I/O command, carried in sqe->cmd.
struct IoCmd {
  uint16_t q_id;
  uint16_t tag;
  int32_t result;
  uint64_t addr;
};
static_assert(sizeof(IoCmd) == 16);
static_assert(offsetof(IoCmd, result) == 4);
static_assert(offsetof(IoCmd, addr) == 8);

constexpr uint32_t IoReadWrite(uint32_t nr) {
  return Ioc(kIocRead | kIocWrite, 'u', nr, sizeof(IoCmd));
}
inline constexpr uint32_t kIoFetchReq = IoReadWrite(0x20);
inline constexpr uint32_t kIoCommitAndFetchReq = IoReadWrite(0x21);
inline constexpr uint32_t kIoNeedGetData = IoReadWrite(0x22);
inline constexpr uint32_t kIoRegisterIoBuf = IoReadWrite(0x23);    // 6.15
inline constexpr uint32_t kIoUnregisterIoBuf = IoReadWrite(0x24);  // 6.15
static_assert(kIoFetchReq == 0xC0107520);
static_assert(kIoCommitAndFetchReq == 0xC0107521);
static_assert(kIoRegisterIoBuf == 0xC0107523);
static_assert(kIoUnregisterIoBuf == 0xC0107524);

// Automatic buffer registration (AUTO_BUF_REG, 6.16): every FETCH and
// COMMIT_AND_FETCH carries this 8-byte descriptor in sqe->addr (IoCmd::addr
// stays 0). The kernel registers the next request's buffer at `index` in the
// ring's buffer table before delivering it, and unregisters it at the commit.
//   bits  0-15  buffer table index
//   bits 16-23  flags (kAutoBufRegFallback)
//   bits 24-63  reserved, 0
inline constexpr uint8_t kAutoBufRegFallback = 1;  // deliver with NEED_REG_BUF
                                                   // instead of failing
constexpr uint64_t AutoBufReg(uint16_t index, uint8_t flags) {
  return static_cast<uint64_t>(index) | static_cast<uint64_t>(flags) << 16;
}

// Batch I/O (BATCH_IO, 7.0): the queue's tags are prepared once with
// PREP_IO_CMDS, new requests arrive as u16 tags from one multishot
// FETCH_IO_CMDS writing into a provided-buffer ring, and finished ones go
// back many at a time with COMMIT_IO_CMDS. The per-tag FETCH_REQ and
// COMMIT_AND_FETCH_REQ are refused on such a device; REGISTER_IO_BUF and
// UNREGISTER_IO_BUF still work.
//
// Every batch command carries this header in sqe->cmd; PREP and COMMIT
// point sqe->addr/len at an array of nr_elem elements of elem_bytes each
// (COMMIT completes with the bytes it consumed), FETCH has elem_bytes 2 and
// flags 0.
struct BatchIo {
  uint16_t q_id;
  uint16_t flags;  // kBatchF*
  uint16_t nr_elem;
  uint8_t elem_bytes;
  uint8_t reserved;
  uint64_t reserved2;
};
static_assert(sizeof(BatchIo) == 16);
static_assert(offsetof(BatchIo, nr_elem) == 4);
static_assert(offsetof(BatchIo, elem_bytes) == 6);

inline constexpr uint16_t kBatchFHasZoneLba = 1u << 0;
inline constexpr uint16_t kBatchFHasBufAddr = 1u << 1;
inline constexpr uint16_t kBatchFAutoBufRegFallback = 1u << 2;

// An element opens with this header; then, in this order, a u64 buffer
// address (kBatchFHasBufAddr: copy mode) and a u64 zone-append sector
// (kBatchFHasZoneLba: zoned devices), each only when its flag is set.
struct BatchElemHeader {
  uint16_t tag;
  uint16_t buf_index;  // AUTO_BUF_REG: the slot for the next request
  int32_t result;      // COMMIT only
};
static_assert(sizeof(BatchElemHeader) == 8);
static_assert(offsetof(BatchElemHeader, result) == 4);

constexpr uint32_t BatchIoCmd(uint32_t nr) {
  return Ioc(kIocRead | kIocWrite, 'u', nr, sizeof(BatchIo));
}
inline constexpr uint32_t kIoPrepIoCmds = BatchIoCmd(0x25);
inline constexpr uint32_t kIoCommitIoCmds = BatchIoCmd(0x26);
inline constexpr uint32_t kIoFetchIoCmds = BatchIoCmd(0x27);
static_assert(kIoPrepIoCmds == 0xC0107525);
static_assert(kIoCommitIoCmds == 0xC0107526);
static_assert(kIoFetchIoCmds == 0xC0107527);

// io_uring pieces the batch fetch needs, newer than some liburing headers:
// a multishot uring_cmd (sqe->uring_cmd_flags, 6.x with BATCH_IO) and a
// provided-buffer ring consumed incrementally (IOU_PBUF_RING_INC, 6.12), so
// one buffer takes many deliveries of tags.
inline constexpr uint32_t kUringCmdMultishot = 1u << 1;
inline constexpr uint16_t kPbufRingInc = 1u << 1;

// cqe->res of a FETCH / COMMIT_AND_FETCH / NEED_GET_DATA command.
inline constexpr int kIoResOk = 0;
inline constexpr int kIoResNeedGetData = 1;
// kIoResAbort is -ENODEV: the command was cancelled; do not re-fetch.

}  // namespace ublk::abi

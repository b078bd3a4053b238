// The NBD protocol, as the nbd target speaks it: constants, and pure
// functions that build the client's messages and check the server's.
//
// Facts from the protocol document (NetworkBlockDevice/nbd doc/proto.md):
// every number is big-endian; the handshake is "fixed newstyle" (the server
// greets with NBDMAGIC, IHAVEOPT and 16 bits of handshake flags, the client
// answers with 32 bits of client flags, then sends options); the export is
// chosen with NBD_OPT_GO, after NBD_OPT_STRUCTURED_REPLY (no data; answered
// NBD_REP_ACK, or an error when the server keeps to simple replies), answered
// by NBD_REP_INFO replies (NBD_INFO_EXPORT: size and transmission flags;
// NBD_INFO_BLOCK_SIZE: minimum, preferred, maximum) ending in NBD_REP_ACK, or
// by an error reply (bit 31 set). In the transmission phase each request is a
// 28-byte header (a WRITE's data after it), each simple reply a 16-byte header
// (a successful READ's data after it); the 64-bit cookie ("handle") pairs them,
// in any order.
//
// Nothing here does I/O or allocates except the option builder and the
// error texts; the reply parser is used on the queue thread (noexcept, no
// allocation). Any thread.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ublk/result.h"

namespace ublk::nbd {

inline constexpr uint16_t kDefaultPort = 10809;

inline constexpr uint64_t kInitMagic = 0x4e42444d41474943ull;  // "NBDMAGIC"
inline constexpr uint64_t kOptMagic = 0x49484156454f5054ull;   // "IHAVEOPT"
inline constexpr uint64_t kOldstyleMagic = 0x0000420281861253ull;
inline constexpr uint64_t kOptReplyMagic = 0x0003e889045565a9ull;
inline constexpr uint32_t kRequestMagic = 0x25609513u;
inline constexpr uint32_t kSimpleReplyMagic = 0x67446698u;
inline constexpr uint32_t kStructuredReplyMagic = 0x668e33efu;

// Handshake flags (server) and client flags.
inline constexpr uint16_t kFlagFixedNewstyle = 1u << 0;
inline constexpr uint16_t kFlagNoZeroes = 1u << 1;
inline constexpr uint32_t kClientFixedNewstyle = 1u << 0;
inline constexpr uint32_t kClientNoZeroes = 1u << 1;

// Options and option replies.
inline constexpr uint32_t kOptGo = 7;
inline constexpr uint32_t kOptStructuredReply = 8;
inline constexpr uint32_t kRepAck = 1;
inline constexpr uint32_t kRepInfo = 3;
inline constexpr uint32_t kRepErrorBit = 1u << 31;
inline constexpr uint32_t kRepErrUnsup = kRepErrorBit | 1;
inline constexpr uint32_t kRepErrPolicy = kRepErrorBit | 2;
inline constexpr uint32_t kRepErrInvalid = kRepErrorBit | 3;
inline constexpr uint32_t kRepErrTlsReqd = kRepErrorBit | 5;
inline constexpr uint32_t kRepErrUnknown = kRepErrorBit | 6;
inline constexpr uint32_t kRepErrShutdown = kRepErrorBit | 7;
inline constexpr uint32_t kRepErrBlockSizeReqd = kRepErrorBit | 8;
inline constexpr uint16_t kInfoExport = 0;
inline constexpr uint16_t kInfoBlockSize = 3;

// Transmission flags.
inline constexpr uint16_t kHasFlags = 1u << 0;
inline constexpr uint16_t kReadOnly = 1u << 1;
inline constexpr uint16_t kSendFlush = 1u << 2;
inline constexpr uint16_t kSendFua = 1u << 3;
inline constexpr uint16_t kRotational = 1u << 4;
inline constexpr uint16_t kSendTrim = 1u << 5;
inline constexpr uint16_t kSendWriteZeroes = 1u << 6;
inline constexpr uint16_t kCanMultiConn = 1u << 8;

// Commands and their flags.
inline constexpr uint16_t kCmdRead = 0;
inline constexpr uint16_t kCmdWrite = 1;
inline constexpr uint16_t kCmdDisc = 2;
inline constexpr uint16_t kCmdFlush = 3;
inline constexpr uint16_t kCmdTrim = 4;
inline constexpr uint16_t kCmdWriteZeroes = 6;
inline constexpr uint16_t kCmdFlagFua = 1u << 0;
inline constexpr uint16_t kCmdFlagNoHole = 1u << 1;

inline constexpr size_t kGreetingBytes = 18;  // magic, magic, flags
inline constexpr size_t kOptReplyHeaderBytes = 20;
inline constexpr size_t kRequestBytes = 28;
inline constexpr size_t kSimpleReplyBytes = 16;
// An option reply this long is refused: INFO replies are a few bytes, error
// texts "SHOULD be no longer than 256 bytes, MUST be no longer than 4096".
inline constexpr uint32_t kMaxOptReplyBytes = 64u << 10;
// The longest export name the protocol allows.
inline constexpr size_t kMaxExportName = 4096;

// What NBD_OPT_GO told us about the export.
struct ExportInfo {
  uint64_t size = 0;
  uint16_t flags = 0;  // transmission flags
  bool has_block_size = false;
  uint32_t min_block = 1;
  uint32_t preferred_block = 4096;
  uint32_t max_block = 32u << 20;
  // Not the export's but the connection's: the server acknowledged
  // NBD_OPT_STRUCTURED_REPLY, so replies come as chunks (nbd_chunk.h).
  bool structured_replies = false;
};

// The handshake flags of the server's greeting, or why it is not a fixed
// newstyle NBD server.
Result<uint16_t> ParseGreeting(std::span<const uint8_t, kGreetingBytes> g);
// The client flags answering `server_flags` (big-endian, 4 bytes).
std::vector<uint8_t> BuildClientFlags(uint16_t server_flags);
// NBD_OPT_GO for `export_name`, asking for NBD_INFO_BLOCK_SIZE too (which
// promises the server we honour its block sizes).
std::vector<uint8_t> BuildGoOption(std::string_view export_name);
// NBD_OPT_STRUCTURED_REPLY.
std::vector<uint8_t> BuildStructuredReplyOption();

struct OptReplyHeader {
  uint32_t type;
  uint32_t length;  // bytes of data that follow
};
// Checks magic, that it answers `option` and that its data is not too long.
Result<OptReplyHeader> ParseOptReplyHeader(
    std::span<const uint8_t, kOptReplyHeaderBytes> h, uint32_t option);
// Folds one NBD_REP_INFO payload into `info`; which infos arrived is
// tracked by the caller. Unknown info types are ignored, as the protocol
// asks. Returns the info type.
Result<uint16_t> ApplyInfo(std::span<const uint8_t> payload, ExportInfo& info);
// One line for an error reply to NBD_OPT_GO for `export_name`; `message` is
// the server's text (may be empty).
std::string GoErrorText(uint32_t type, std::string_view export_name,
                        std::string_view message);
// Checks an ExportInfo as received: HAS_FLAGS set, block sizes sane (powers
// of two, min <= preferred <= max, min at most 64 KiB).
Result<void> CheckExportInfo(const ExportInfo& info);

// One request header, written into `out` (28 bytes).
void EncodeRequest(uint8_t* out, uint16_t cmd, uint16_t flags, uint64_t cookie,
                   uint64_t offset, uint32_t length) noexcept;

struct SimpleReply {
  enum class Status : uint8_t {
    kOk,          // a simple reply: error and cookie are valid
    kStructured,  // a structured reply chunk (nbd_chunk.h)
    kBadMagic,    // not a reply at all: the stream is out of step
  } status;
  uint32_t error;  // the server's NBD error value, 0 on success
  uint64_t cookie;
};
SimpleReply ParseSimpleReply(const uint8_t* in) noexcept;  // 16 bytes

// The -errno a request fails with for the server's error value (EPERM, EIO,
// ENOMEM, EINVAL, ENOSPC, EOVERFLOW, ENOTSUP, ESHUTDOWN; others are EIO).
int ReplyErrno(uint32_t error) noexcept;

}  // namespace ublk::nbd

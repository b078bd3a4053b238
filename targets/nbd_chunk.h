// NBD structured reply chunks (NBD_OPT_STRUCTURED_REPLY), as the nbd target
// reads them: the 20-byte chunk header, and what one chunk does to the
// request it answers.
//
// Facts from the protocol document (NetworkBlockDevice/nbd doc/proto.md): a
// chunk is magic 0x668e33ef, 16 bits of flags (NBD_REPLY_FLAG_DONE: the
// request's last chunk), 16 bits of type, the request's 64-bit cookie and
// 32 bits of payload length. NBD_REPLY_TYPE_NONE carries nothing and comes
// only with DONE; OFFSET_DATA is a 64-bit offset and the data there;
// OFFSET_HOLE a 64-bit offset and a 32-bit size of zeros; ERROR a 32-bit
// (non-zero) error and a 16-bit message length and message, ERROR_OFFSET the
// same and a 64-bit offset. Types with bit 15 set are errors. Data and holes
// answer only READ, never overlap, and a READ succeeds only when they cover
// its range; a simple reply (without data) may still answer anything else.
//
// What PlanChunk refuses as a protocol violation: a NONE chunk without DONE
// or with a payload; data or a hole for another command than READ, outside
// the request's range, empty, or with a payload length that does not fit
// its type; an error chunk with error 0, a message length that does not
// match its payload, a payload over kMaxErrorChunkBytes, or an offset
// outside the request; a type it does not know without bit 15 (BLOCK_STATUS
// among them: no metadata context is ever asked for). An unknown error type
// fails the request with EIO. The queue checks the rest (nbd_queue.h): a
// cookie of no request in flight, a simple reply to a READ, or to a request
// that already had chunks, and a READ whose data and holes add up to other
// than its length (more than its length is found as soon as it happens; an
// overlap that leaves a gap of the same size is not noticed).
//
// No I/O, no allocation: queue thread safe (noexcept).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace ublk::nbd {

inline constexpr uint16_t kReplyFlagDone = 1u << 0;
inline constexpr uint16_t kReplyTypeNone = 0;
inline constexpr uint16_t kReplyTypeOffsetData = 1;
inline constexpr uint16_t kReplyTypeOffsetHole = 2;
inline constexpr uint16_t kReplyTypeErrorBit = 1u << 15;
inline constexpr uint16_t kReplyTypeError = kReplyTypeErrorBit | 1;
inline constexpr uint16_t kReplyTypeErrorOffset = kReplyTypeErrorBit | 2;

inline constexpr size_t kChunkHeaderBytes = 20;
// An error chunk's longest payload: error, message length, a message of at
// most 4096 bytes (the protocol's limit for strings) and an offset. Well
// within the receive buffer, so an error chunk is parsed whole.
inline constexpr uint32_t kMaxErrorChunkBytes = 4 + 2 + 4096 + 8;

struct ChunkHeader {
  uint16_t flags;
  uint16_t type;
  uint64_t cookie;
  uint32_t length;  // payload bytes after the header
};
// 20 bytes whose magic the caller checked (ParseSimpleReply: kStructured).
ChunkHeader ParseChunkHeader(const uint8_t* in) noexcept;

// The request a chunk answers.
struct ChunkTarget {
  uint16_t cmd;
  uint64_t offset;
  uint32_t length;
};

struct ChunkPlan {
  enum class Kind : uint8_t {
    kNeedMore,   // `payload` holds fewer than `head` bytes: receive more
    kNothing,    // NONE: the payload is consumed, nothing to do
    kData,       // `count` bytes of data for the buffer at `at` follow the
                 // `head` bytes (the offset)
    kHole,       // `count` zero bytes at `at`
    kError,      // the request fails with `error` (-errno)
    kViolation,  // the server broke the protocol: `why`
  } kind;
  uint32_t head = 0;  // payload bytes consumed from the buffer
  uint32_t at = 0;    // offset in the request's buffer
  uint32_t count = 0;
  int error = 0;
  const char* why = nullptr;
};
// What the chunk with header `h` does to `r`; `payload` is what has been
// received of the payload so far (any length: kNeedMore until it holds the
// part that must be parsed at once, which for data is only the offset).
ChunkPlan PlanChunk(const ChunkHeader& h, std::span<const uint8_t> payload,
                    const ChunkTarget& r) noexcept;

}  // namespace ublk::nbd

#include "nbd_chunk.h"

#include <cerrno>

#include "nbd_be.h"
#include "nbd_proto.h"

namespace ublk::nbd {
namespace {

ChunkPlan Violation(const char* why) {
  ChunkPlan p{ChunkPlan::Kind::kViolation};
  p.why = why;
  return p;
}

// Where [offset, offset + count) lies in the request's buffer, or false
// when not wholly inside it.
bool Inside(const ChunkTarget& r, uint64_t offset, uint64_t count,
            uint32_t* at) {
  if (offset < r.offset || offset - r.offset > r.length ||
      count > r.length - (offset - r.offset))
    return false;
  *at = static_cast<uint32_t>(offset - r.offset);
  return true;
}

ChunkPlan Error(const ChunkHeader& h, std::span<const uint8_t> payload,
                const ChunkTarget& r) {
  if (h.length < 6 || h.length > kMaxErrorChunkBytes)
    return Violation("an error chunk of a bad length");
  if (payload.size() < h.length) {
    ChunkPlan p{ChunkPlan::Kind::kNeedMore};
    p.head = h.length;
    return p;
  }
  ChunkPlan p{ChunkPlan::Kind::kError};
  p.head = h.length;
  if (h.type != kReplyTypeError && h.type != kReplyTypeErrorOffset) {
    p.error = -EIO;  // an error type we do not know
    return p;
  }
  const uint32_t error = Be32(payload.data());
  const uint32_t message = Be16(payload.data() + 4);
  const uint32_t extra = h.type == kReplyTypeErrorOffset ? 8 : 0;
  if (error == 0) return Violation("an error chunk with error 0");
  if (h.length != 6 + message + extra)
    return Violation("an error chunk whose message does not fit its length");
  if (extra != 0) {
    uint32_t at;
    if (!Inside(r, Be64(payload.data() + 6 + message), 1, &at))
      return Violation("an error offset outside the request");
  }
  p.error = ReplyErrno(error);
  return p;
}

}  // namespace

ChunkHeader ParseChunkHeader(const uint8_t* in) noexcept {
  return {Be16(in + 4), Be16(in + 6), Be64(in + 8), Be32(in + 16)};
}

ChunkPlan PlanChunk(const ChunkHeader& h, std::span<const uint8_t> payload,
                    const ChunkTarget& r) noexcept {
  if (h.type & kReplyTypeErrorBit) return Error(h, payload, r);
  switch (h.type) {
    case kReplyTypeNone:
      if (!(h.flags & kReplyFlagDone))
        return Violation("a NONE chunk without the DONE flag");
      if (h.length != 0) return Violation("a NONE chunk with a payload");
      return {ChunkPlan::Kind::kNothing};
    case kReplyTypeOffsetData:
    case kReplyTypeOffsetHole: {
      const bool data = h.type == kReplyTypeOffsetData;
      if (r.cmd != kCmdRead) return Violation("data or a hole for no READ");
      if (data ? h.length <= 8 : h.length != 12)
        return Violation(data ? "an empty data chunk"
                              : "a hole chunk of a bad length");
      const uint32_t head = data ? 8 : 12;
      if (payload.size() < head) {
        ChunkPlan p{ChunkPlan::Kind::kNeedMore};
        p.head = head;
        return p;
      }
      ChunkPlan p{data ? ChunkPlan::Kind::kData : ChunkPlan::Kind::kHole};
      p.head = head;
      p.count = data ? h.length - 8 : Be32(payload.data() + 8);
      if (p.count == 0) return Violation("an empty hole chunk");
      if (!Inside(r, Be64(payload.data()), p.count, &p.at))
        return Violation(data ? "data outside the request"
                              : "a hole outside the request");
      return p;
    }
    default:
      return Violation("a chunk of an unknown type");
  }
}

}  // namespace ublk::nbd

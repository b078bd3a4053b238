// libFuzzer harness: what an NBD server or a user hands the nbd target.
// The first byte picks the parser: an NBD URI (-f), the server's side of
// the handshake (greeting, option replies, infos), a stream of simple
// reply headers, or a stream of structured reply chunks for a READ (its
// offset and length first). Any bytes must give a value or an Error, never
// a crash, leak, hang or undefined behaviour; an accepted URI must name its
// parts within their limits, an accepted export must pass CheckExportInfo,
// and a chunk's data or hole must lie inside its request and consume no
// more than the bytes there are.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "nbd_chunk.h"
#include "nbd_handshake.h"
#include "nbd_proto.h"
#include "nbd_uri.h"

namespace {

// The server's bytes from the input; writes are dropped.
class FuzzStream final : public ublk::nbd::Stream {
 public:
  FuzzStream(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  ublk::Result<void> Read(std::span<uint8_t> out) override {
    if (size_ - pos_ < out.size()) return ublk::Invalid("end of stream");
    if (out.empty()) return {};  // memcpy may not take a null pointer
    std::memcpy(out.data(), data_ + pos_, out.size());
    pos_ += out.size();
    return {};
  }
  ublk::Result<void> Write(std::span<const uint8_t>) override { return {}; }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t mode = data[0] % 4;
  ++data;
  --size;
  if (mode == 0) {
    auto a = ublk::nbd::ParseUri(
        std::string_view(reinterpret_cast<const char*>(data), size));
    if (a && (a->export_name.size() > ublk::nbd::kMaxExportName ||
              a->socket_path.size() > 107 ||
              (a->kind == ublk::nbd::Address::Kind::kTcp &&
               (a->host.empty() || a->port == 0))))
      __builtin_trap();
    if (a) (void)ublk::nbd::Describe(*a);
  } else if (mode == 1) {
    FuzzStream s(data, size);
    auto info = ublk::nbd::Handshake(s, "disk");
    if (info && !ublk::nbd::CheckExportInfo(*info).ok()) __builtin_trap();
  } else if (mode == 2) {
    for (size_t off = 0; off + ublk::nbd::kSimpleReplyBytes <= size;
         off += ublk::nbd::kSimpleReplyBytes) {
      const auto r = ublk::nbd::ParseSimpleReply(data + off);
      (void)ublk::nbd::ReplyErrno(r.error);
    }
  } else {
    using ublk::nbd::ChunkPlan;
    if (size < 8) return 0;
    ublk::nbd::ChunkTarget t{ublk::nbd::kCmdRead, 0, 0};
    for (int i = 0; i < 5; ++i) t.offset = t.offset << 8 | data[i];
    t.offset <<= 9;
    if (data[5] & 1) t.cmd = ublk::nbd::kCmdWrite;
    t.length = static_cast<uint32_t>(data[6] << 8 | data[7]) << 4;
    size_t off = 8;
    while (size - off >= ublk::nbd::kChunkHeaderBytes) {
      const auto h = ublk::nbd::ParseChunkHeader(data + off);
      off += ublk::nbd::kChunkHeaderBytes;
      const std::span<const uint8_t> rest(data + off, size - off);
      const ChunkPlan p = ublk::nbd::PlanChunk(h, rest, t);
      if (p.kind == ChunkPlan::Kind::kNeedMore) {
        if (p.head <= rest.size()) __builtin_trap();
        break;
      }
      if (p.kind == ChunkPlan::Kind::kViolation) {
        if (p.why == nullptr) __builtin_trap();
        break;
      }
      if (p.head > rest.size() || p.head > h.length) __builtin_trap();
      if ((p.kind == ChunkPlan::Kind::kData ||
           p.kind == ChunkPlan::Kind::kHole) &&
          (t.cmd != ublk::nbd::kCmdRead || p.count == 0 || p.at > t.length ||
           p.count > t.length - p.at))
        __builtin_trap();
      if (p.kind == ChunkPlan::Kind::kError && p.error >= 0) __builtin_trap();
      // The data itself follows in the stream.
      off += p.head;
      if (p.kind == ChunkPlan::Kind::kData)
        off += std::min<size_t>(p.count, size - off);
    }
  }
  return 0;
}

// The NBD handshake and reply parsing against scripted server bytes: what a
// well-behaved server says, and each way a broken one is refused.
#include "nbd_proto.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "nbd_chunk.h"
#include "nbd_handshake.h"

namespace ublk::nbd {
namespace {

using Bytes = std::vector<uint8_t>;

void Add(Bytes& b, uint64_t v, int n) {
  for (int i = n - 1; i >= 0; --i)
    b.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

Bytes Greeting(uint16_t flags = kFlagFixedNewstyle | kFlagNoZeroes) {
  Bytes b;
  Add(b, kInitMagic, 8);
  Add(b, kOptMagic, 8);
  Add(b, flags, 2);
  return b;
}

void Reply(Bytes& b, uint32_t type, const Bytes& data, uint32_t opt = kOptGo) {
  Add(b, kOptReplyMagic, 8);
  Add(b, opt, 4);
  Add(b, type, 4);
  Add(b, data.size(), 4);
  b.insert(b.end(), data.begin(), data.end());
}

Bytes ExportInfoReply(uint64_t size, uint16_t flags) {
  Bytes d;
  Add(d, kInfoExport, 2);
  Add(d, size, 8);
  Add(d, flags, 2);
  return d;
}

Bytes BlockSizeReply(uint32_t min, uint32_t pref, uint32_t max) {
  Bytes d;
  Add(d, kInfoBlockSize, 2);
  Add(d, min, 4);
  Add(d, pref, 4);
  Add(d, max, 4);
  return d;
}

// The greeting, and the answer to NBD_OPT_STRUCTURED_REPLY: NBD_REP_ACK
// when `structured`, else NBD_REP_ERR_UNSUP.
Bytes Start(bool structured = false) {
  Bytes b = Greeting();
  Reply(b, structured ? kRepAck : kRepErrUnsup, {}, kOptStructuredReply);
  return b;
}

// The server's side scripted: reads come from `in`, writes are kept.
class ScriptStream final : public Stream {
 public:
  explicit ScriptStream(Bytes in) : in_(std::move(in)) {}
  Result<void> Read(std::span<uint8_t> out) override {
    if (in_.size() - pos_ < out.size()) return Invalid("end of stream");
    if (out.empty()) return {};  // memcpy may not take a null pointer
    std::memcpy(out.data(), in_.data() + pos_, out.size());
    pos_ += out.size();
    return {};
  }
  Result<void> Write(std::span<const uint8_t> in) override {
    written.insert(written.end(), in.begin(), in.end());
    return {};
  }
  Bytes written;

 private:
  Bytes in_;
  size_t pos_ = 0;
};

TEST(NbdHandshake, GoReturnsSizeFlagsAndBlockSizes) {
  Bytes s = Start();
  const uint16_t flags = kHasFlags | kSendFlush | kSendTrim | kCanMultiConn;
  Reply(s, kRepInfo, ExportInfoReply(1 << 20, flags));
  Reply(s, kRepInfo, BlockSizeReply(512, 4096, 1 << 25));
  Reply(s, kRepAck, {});
  ScriptStream st(s);
  auto info = Handshake(st, "disk");
  ASSERT_TRUE(info) << info.error().message();
  EXPECT_FALSE(info->structured_replies);  // refused: simple replies
  EXPECT_EQ(info->size, 1u << 20);
  EXPECT_EQ(info->flags, flags);
  EXPECT_TRUE(info->has_block_size);
  EXPECT_EQ(info->min_block, 512u);
  EXPECT_EQ(info->max_block, 1u << 25);

  // Client flags (fixed newstyle, no zeroes), NBD_OPT_STRUCTURED_REPLY,
  // then NBD_OPT_GO for "disk" asking for the block size info.
  Bytes want;
  Add(want, kClientFixedNewstyle | kClientNoZeroes, 4);
  Add(want, kOptMagic, 8);
  Add(want, kOptStructuredReply, 4);
  Add(want, 0, 4);
  Add(want, kOptMagic, 8);
  Add(want, kOptGo, 4);
  Add(want, 4 + 4 + 2 + 2, 4);
  Add(want, 4, 4);
  for (char c : std::string("disk")) want.push_back(static_cast<uint8_t>(c));
  Add(want, 1, 2);
  Add(want, kInfoBlockSize, 2);
  EXPECT_EQ(st.written, want);
}

TEST(NbdHandshake, StructuredRepliesAreUsedWhenAcknowledged) {
  Bytes s = Start(true);
  Reply(s, kRepInfo, ExportInfoReply(4096, kHasFlags));
  Reply(s, kRepAck, {});
  ScriptStream st(s);
  auto info = Handshake(st, "");
  ASSERT_TRUE(info) << info.error().message();
  EXPECT_TRUE(info->structured_replies);
}

TEST(NbdHandshake, AnyErrorToStructuredRepliesKeepsSimpleOnes) {
  Bytes s = Greeting();
  Reply(s, kRepErrPolicy, {'n', 'o'}, kOptStructuredReply);
  Reply(s, kRepInfo, ExportInfoReply(4096, kHasFlags));
  Reply(s, kRepAck, {});
  ScriptStream st(s);
  auto info = Handshake(st, "");
  ASSERT_TRUE(info) << info.error().message();
  EXPECT_FALSE(info->structured_replies);
}

TEST(NbdHandshake, NoZeroesIsAskedOnlyWhenOffered) {
  Bytes s = Greeting(kFlagFixedNewstyle);
  ScriptStream st(s);
  (void)Handshake(st, "");
  ASSERT_GE(st.written.size(), 4u);
  EXPECT_EQ(st.written[3], kClientFixedNewstyle);
}

TEST(NbdHandshake, UnknownInfoTypesAreIgnored) {
  Bytes s = Start();
  Reply(s, kRepInfo, {0, 2, 'h', 'i'});  // NBD_INFO_DESCRIPTION
  Reply(s, kRepInfo, ExportInfoReply(4096, kHasFlags));
  Reply(s, kRepAck, {});
  ScriptStream st(s);
  auto info = Handshake(st, "");
  ASSERT_TRUE(info) << info.error().message();
  EXPECT_FALSE(info->has_block_size);
}

std::string Refusal(const Bytes& s, const char* name = "disk") {
  ScriptStream st(s);
  auto info = Handshake(st, name);
  EXPECT_FALSE(info);
  if (info) return "";
  EXPECT_EQ(info.error().message().find('\n'), std::string::npos);
  return info.error().message();
}

TEST(NbdHandshake, UnknownExportIsNamed) {
  Bytes s = Start();
  Reply(s, kRepErrUnknown, {'n', 'o', 'p', 'e'});
  EXPECT_EQ(Refusal(s), "export 'disk' does not exist on the NBD server: nope");
}

TEST(NbdHandshake, TlsRequiredIsNamed) {
  Bytes s = Start();
  Reply(s, kRepErrTlsReqd, {});
  EXPECT_NE(Refusal(s).find("requires TLS"), std::string::npos);
}

TEST(NbdHandshake, NotAServerOrOldstyleIsRefused) {
  Bytes junk(18, 'x');
  EXPECT_NE(Refusal(junk).find("not an NBD server"), std::string::npos);
  Bytes old;
  Add(old, kInitMagic, 8);
  Add(old, kOldstyleMagic, 8);
  Add(old, 0, 2);
  EXPECT_NE(Refusal(old).find("oldstyle"), std::string::npos);
  EXPECT_NE(Refusal(Greeting(0)).find("fixed newstyle"), std::string::npos);
}

TEST(NbdHandshake, ProtocolViolationsAreRefused) {
  Bytes ack_only = Start();
  Reply(ack_only, kRepAck, {});
  EXPECT_NE(Refusal(ack_only).find("without export info"), std::string::npos);

  Bytes other_opt = Start();
  Reply(other_opt, kRepAck, {}, /*opt=*/1);
  EXPECT_NE(Refusal(other_opt).find("another option"), std::string::npos);

  Bytes huge = Start();
  Add(huge, kOptReplyMagic, 8);
  Add(huge, kOptGo, 4);
  Add(huge, kRepInfo, 4);
  Add(huge, 1u << 30, 4);
  EXPECT_NE(Refusal(huge).find("bytes)"), std::string::npos);

  Bytes short_info = Start();
  Reply(short_info, kRepInfo, {0, 0, 1});
  EXPECT_NE(Refusal(short_info).find("export info of 3 bytes"),
            std::string::npos);

  Bytes no_has_flags = Start();
  Reply(no_has_flags, kRepInfo, ExportInfoReply(4096, 0));
  Reply(no_has_flags, kRepAck, {});
  EXPECT_NE(Refusal(no_has_flags).find("HAS_FLAGS"), std::string::npos);

  Bytes bad_bs = Start();
  Reply(bad_bs, kRepInfo, ExportInfoReply(4096, kHasFlags));
  Reply(bad_bs, kRepInfo, BlockSizeReply(3, 4096, 1 << 20));
  Reply(bad_bs, kRepAck, {});
  EXPECT_NE(Refusal(bad_bs).find("block sizes"), std::string::npos);

  Bytes info_to_sr = Greeting();
  Reply(info_to_sr, kRepInfo, {0, 9}, kOptStructuredReply);
  EXPECT_NE(Refusal(info_to_sr).find("to NBD_OPT_STRUCTURED_REPLY"),
            std::string::npos);

  Bytes sr_other_opt = Greeting();
  Reply(sr_other_opt, kRepAck, {}, kOptGo);
  EXPECT_NE(Refusal(sr_other_opt).find("another option"), std::string::npos);

  Bytes truncated = Greeting();
  truncated.resize(10);
  EXPECT_EQ(Refusal(truncated), "end of stream");
}

TEST(NbdHandshake, EndlessRepliesAreRefused) {
  Bytes s = Start();
  for (int i = 0; i < 100; ++i) Reply(s, kRepInfo, {0, 9});
  EXPECT_NE(Refusal(s).find("too many replies"), std::string::npos);
}

TEST(NbdRequest, EncodesBigEndianFields) {
  uint8_t b[kRequestBytes];
  EncodeRequest(b, kCmdWrite, kCmdFlagFua, 0x0102030405060708ull, 0x1000,
                0x200);
  const uint8_t want[kRequestBytes] = {0x25, 0x60, 0x95, 0x13, 0, 1, 0, 1, 1, 2,
                                       3,    4,    5,    6,    7, 8, 0, 0, 0, 0,
                                       0,    0,    0x10, 0,    0, 0, 2, 0};
  EXPECT_EQ(std::memcmp(b, want, sizeof(b)), 0);
}

TEST(NbdReply, SimpleReplyParses) {
  Bytes r;
  Add(r, kSimpleReplyMagic, 4);
  Add(r, 5, 4);
  Add(r, 0xabcdef, 8);
  const SimpleReply s = ParseSimpleReply(r.data());
  EXPECT_EQ(s.status, SimpleReply::Status::kOk);
  EXPECT_EQ(s.error, 5u);
  EXPECT_EQ(s.cookie, 0xabcdefu);
}

TEST(NbdReply, StructuredAndGarbageAreTold) {
  Bytes r;
  Add(r, kStructuredReplyMagic, 4);
  Add(r, 0, 12);
  EXPECT_EQ(ParseSimpleReply(r.data()).status,
            SimpleReply::Status::kStructured);
  Bytes g(16, 0xff);
  EXPECT_EQ(ParseSimpleReply(g.data()).status, SimpleReply::Status::kBadMagic);
}

TEST(NbdReply, ErrorValuesMapToErrno) {
  EXPECT_EQ(ReplyErrno(1), -EPERM);
  EXPECT_EQ(ReplyErrno(28), -ENOSPC);
  EXPECT_EQ(ReplyErrno(95), -EOPNOTSUPP);
  EXPECT_EQ(ReplyErrno(108), -EIO);
  EXPECT_EQ(ReplyErrno(12345), -EIO);
}

// A chunk's payload bytes.
Bytes Payload(std::initializer_list<std::pair<uint64_t, int>> fields) {
  Bytes b;
  for (auto [v, n] : fields) Add(b, v, n);
  return b;
}

constexpr ChunkTarget kRead{kCmdRead, 0x10000, 4096};

ChunkPlan Plan(uint16_t flags, uint16_t type, const Bytes& payload,
               const ChunkTarget& r = kRead, int64_t length = -1) {
  const ChunkHeader h{flags, type, 7,
                      length < 0 ? static_cast<uint32_t>(payload.size())
                                 : static_cast<uint32_t>(length)};
  return PlanChunk(h, payload, r);
}

TEST(NbdChunk, HeaderParses) {
  Bytes r;
  Add(r, kStructuredReplyMagic, 4);
  Add(r, kReplyFlagDone, 2);
  Add(r, kReplyTypeOffsetHole, 2);
  Add(r, 0x1122334455667788ull, 8);
  Add(r, 12, 4);
  EXPECT_EQ(ParseSimpleReply(r.data()).status,
            SimpleReply::Status::kStructured);
  const ChunkHeader h = ParseChunkHeader(r.data());
  EXPECT_EQ(h.flags, kReplyFlagDone);
  EXPECT_EQ(h.type, kReplyTypeOffsetHole);
  EXPECT_EQ(h.cookie, 0x1122334455667788ull);
  EXPECT_EQ(h.length, 12u);
}

TEST(NbdChunk, NoneWithDoneDoesNothing) {
  EXPECT_EQ(Plan(kReplyFlagDone, kReplyTypeNone, {}).kind,
            ChunkPlan::Kind::kNothing);
}

TEST(NbdChunk, DataNeedsOnlyItsOffsetBufferedAndLandsAtItsPlace) {
  // 100 bytes at 0x10000 + 96: the data itself is not buffered yet.
  const Bytes offset = Payload({{0x10000 + 96, 8}});
  ChunkPlan p = Plan(0, kReplyTypeOffsetData, offset, kRead, 8 + 100);
  EXPECT_EQ(p.kind, ChunkPlan::Kind::kData);
  EXPECT_EQ(p.head, 8u);
  EXPECT_EQ(p.at, 96u);
  EXPECT_EQ(p.count, 100u);
  p = Plan(0, kReplyTypeOffsetData, {0, 0, 1}, kRead, 8 + 100);
  EXPECT_EQ(p.kind, ChunkPlan::Kind::kNeedMore);
  EXPECT_EQ(p.head, 8u);
  // Exactly the whole range.
  p = Plan(kReplyFlagDone, kReplyTypeOffsetData, Payload({{0x10000, 8}}), kRead,
           8 + 4096);
  EXPECT_EQ(p.kind, ChunkPlan::Kind::kData);
  EXPECT_EQ(p.count, 4096u);
}

TEST(NbdChunk, HoleZeroesItsRange) {
  ChunkPlan p = Plan(0, kReplyTypeOffsetHole,
                     Payload({{0x10000 + 4096 - 512, 8}, {512, 4}}));
  EXPECT_EQ(p.kind, ChunkPlan::Kind::kHole);
  EXPECT_EQ(p.head, 12u);
  EXPECT_EQ(p.at, 4096u - 512);
  EXPECT_EQ(p.count, 512u);
  EXPECT_EQ(Plan(0, kReplyTypeOffsetHole, {0, 0}, kRead, 12).kind,
            ChunkPlan::Kind::kNeedMore);
}

TEST(NbdChunk, ErrorChunksCarryTheirErrnoOnceWhollyBuffered) {
  Bytes e = Payload({{28, 4}, {3, 2}});
  e.insert(e.end(), {'f', 'u', 'l'});
  ChunkPlan p = Plan(0, kReplyTypeError, e);
  EXPECT_EQ(p.kind, ChunkPlan::Kind::kError);
  EXPECT_EQ(p.error, -ENOSPC);
  EXPECT_EQ(p.head, 9u);
  Bytes part(e.begin(), e.begin() + 7);
  EXPECT_EQ(Plan(0, kReplyTypeError, part, kRead, 9).kind,
            ChunkPlan::Kind::kNeedMore);
  Bytes eo = Payload({{1, 4}, {0, 2}, {0x10000 + 4095, 8}});
  p = Plan(kReplyFlagDone, kReplyTypeErrorOffset, eo);
  EXPECT_EQ(p.kind, ChunkPlan::Kind::kError);
  EXPECT_EQ(p.error, -EPERM);
  EXPECT_EQ(p.head, 14u);
  // For a command without data, too.
  p = Plan(kReplyFlagDone, kReplyTypeError, Payload({{5, 4}, {0, 2}}),
           {kCmdFlush, 0, 0});
  EXPECT_EQ(p.error, -EIO);
}

TEST(NbdChunk, UnknownErrorTypeFailsWithEio) {
  ChunkPlan p = Plan(kReplyFlagDone, kReplyTypeErrorBit | 9,
                     Payload({{1, 4}, {0, 2}, {0, 4}}));
  EXPECT_EQ(p.kind, ChunkPlan::Kind::kError);
  EXPECT_EQ(p.error, -EIO);
  EXPECT_EQ(p.head, 10u);
}

std::string Why(const ChunkPlan& p) {
  EXPECT_EQ(p.kind, ChunkPlan::Kind::kViolation);
  return p.why != nullptr ? p.why : "";
}

TEST(NbdChunk, EachViolationIsNamed) {
  constexpr ChunkTarget kWrite{kCmdWrite, 0x10000, 4096};
  EXPECT_EQ(Why(Plan(0, kReplyTypeNone, {})),
            "a NONE chunk without the DONE flag");
  EXPECT_EQ(Why(Plan(kReplyFlagDone, kReplyTypeNone, {0})),
            "a NONE chunk with a payload");
  EXPECT_EQ(Why(Plan(0, kReplyTypeOffsetData, Payload({{0x10000, 8}, {0, 1}}),
                     kWrite)),
            "data or a hole for no READ");
  EXPECT_EQ(Why(Plan(0, kReplyTypeOffsetHole, Payload({{0x10000, 8}, {512, 4}}),
                     kWrite)),
            "data or a hole for no READ");
  EXPECT_EQ(Why(Plan(0, kReplyTypeOffsetData, Payload({{0x10000, 8}}))),
            "an empty data chunk");
  EXPECT_EQ(Why(Plan(0, kReplyTypeOffsetHole, Payload({{0x10000, 8}, {1, 2}}))),
            "a hole chunk of a bad length");
  EXPECT_EQ(Why(Plan(0, kReplyTypeOffsetHole, Payload({{0x10000, 8}, {0, 4}}))),
            "an empty hole chunk");
  // Before, across the end of, and after the request's range; a length
  // that would wrap.
  EXPECT_EQ(
      Why(Plan(0, kReplyTypeOffsetData, Payload({{0xffff, 8}}), kRead, 8 + 2)),
      "data outside the request");
  EXPECT_EQ(Why(Plan(0, kReplyTypeOffsetData, Payload({{0x10000 + 4095, 8}}),
                     kRead, 8 + 2)),
            "data outside the request");
  EXPECT_EQ(Why(Plan(0, kReplyTypeOffsetData, Payload({{0x10000, 8}}), kRead,
                     8 + 4097)),
            "data outside the request");
  EXPECT_EQ(
      Why(Plan(0, kReplyTypeOffsetData, Payload({{~0ull, 8}}), kRead, 8 + 2)),
      "data outside the request");
  EXPECT_EQ(Why(Plan(0, kReplyTypeOffsetHole,
                     Payload({{0x10000 + 4096, 8}, {1, 4}}))),
            "a hole outside the request");
  EXPECT_EQ(Why(Plan(0, kReplyTypeOffsetHole,
                     Payload({{0x10000, 8}, {0xffffffff, 4}}))),
            "a hole outside the request");
  // Error chunks.
  EXPECT_EQ(Why(Plan(0, kReplyTypeError, Payload({{5, 4}}))),
            "an error chunk of a bad length");
  EXPECT_EQ(Why(Plan(0, kReplyTypeError, {}, kRead, kMaxErrorChunkBytes + 1)),
            "an error chunk of a bad length");
  EXPECT_EQ(Why(Plan(0, kReplyTypeError, Payload({{0, 4}, {0, 2}}))),
            "an error chunk with error 0");
  EXPECT_EQ(Why(Plan(0, kReplyTypeError, Payload({{5, 4}, {9, 2}, {0, 1}}))),
            "an error chunk whose message does not fit its length");
  EXPECT_EQ(Why(Plan(0, kReplyTypeErrorOffset, Payload({{5, 4}, {0, 2}}))),
            "an error chunk whose message does not fit its length");
  EXPECT_EQ(Why(Plan(0, kReplyTypeErrorOffset,
                     Payload({{5, 4}, {0, 2}, {0x10000 + 4096, 8}}))),
            "an error offset outside the request");
  // Types we do not know (BLOCK_STATUS: never asked for).
  EXPECT_EQ(Why(Plan(kReplyFlagDone, 5, Payload({{1, 4}}))),
            "a chunk of an unknown type");
  EXPECT_EQ(Why(Plan(kReplyFlagDone, 0x7fff, {})),
            "a chunk of an unknown type");
}

}  // namespace
}  // namespace ublk::nbd

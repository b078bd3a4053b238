#include "nbd_proto.h"

#include <cerrno>

#include "nbd_be.h"

namespace ublk::nbd {
namespace {

void Put16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
void Put32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (24 - 8 * i));
}
void Put64(uint8_t* p, uint64_t v) {
  Put32(p, static_cast<uint32_t>(v >> 32));
  Put32(p + 4, static_cast<uint32_t>(v));
}

void Append32(std::vector<uint8_t>& out, uint32_t v) {
  uint8_t b[4];
  Put32(b, v);
  out.insert(out.end(), b, b + 4);
}
void Append64(std::vector<uint8_t>& out, uint64_t v) {
  Append32(out, static_cast<uint32_t>(v >> 32));
  Append32(out, static_cast<uint32_t>(v));
}

std::vector<uint8_t> OptionHeader(uint32_t option, uint32_t length) {
  std::vector<uint8_t> out;
  Append64(out, kOptMagic);
  Append32(out, option);
  Append32(out, length);
  return out;
}

bool PowerOfTwo(uint32_t v) { return v != 0 && (v & (v - 1)) == 0; }

}  // namespace

Result<uint16_t> ParseGreeting(std::span<const uint8_t, kGreetingBytes> g) {
  if (Be64(g.data()) != kInitMagic)
    return Invalid("not an NBD server (no NBDMAGIC in its greeting)");
  const uint64_t second = Be64(g.data() + 8);
  if (second == kOldstyleMagic)
    return Invalid(
        "the server speaks the oldstyle NBD handshake, which has "
        "no export names; only fixed newstyle is supported");
  if (second != kOptMagic)
    return Invalid("not an NBD server (unknown handshake magic)");
  const uint16_t flags = Be16(g.data() + 16);
  if (!(flags & kFlagFixedNewstyle))
    return Invalid(
        "the NBD server does not offer the fixed newstyle "
        "handshake");
  return flags;
}

std::vector<uint8_t> BuildClientFlags(uint16_t server_flags) {
  std::vector<uint8_t> out;
  uint32_t flags = kClientFixedNewstyle;
  if (server_flags & kFlagNoZeroes) flags |= kClientNoZeroes;
  Append32(out, flags);
  return out;
}

std::vector<uint8_t> BuildGoOption(std::string_view export_name) {
  constexpr uint16_t kInfos[] = {kInfoBlockSize};
  const uint32_t len =
      static_cast<uint32_t>(4 + export_name.size() + 2 + 2 * std::size(kInfos));
  std::vector<uint8_t> out = OptionHeader(kOptGo, len);
  Append32(out, static_cast<uint32_t>(export_name.size()));
  out.insert(out.end(), export_name.begin(), export_name.end());
  out.push_back(0);
  out.push_back(static_cast<uint8_t>(std::size(kInfos)));
  for (uint16_t info : kInfos) {
    out.push_back(static_cast<uint8_t>(info >> 8));
    out.push_back(static_cast<uint8_t>(info));
  }
  return out;
}

std::vector<uint8_t> BuildStructuredReplyOption() {
  return OptionHeader(kOptStructuredReply, 0);
}

Result<OptReplyHeader> ParseOptReplyHeader(
    std::span<const uint8_t, kOptReplyHeaderBytes> h, uint32_t option) {
  if (Be64(h.data()) != kOptReplyMagic)
    return Invalid(
        "the NBD server broke the protocol (bad option reply "
        "magic)");
  if (Be32(h.data() + 8) != option)
    return Invalid(
        "the NBD server broke the protocol (a reply to another "
        "option)");
  OptReplyHeader r{Be32(h.data() + 12), Be32(h.data() + 16)};
  if (r.length > kMaxOptReplyBytes)
    return Invalid("the NBD server broke the protocol (an option reply of " +
                   std::to_string(r.length) + " bytes)");
  return r;
}

Result<uint16_t> ApplyInfo(std::span<const uint8_t> payload, ExportInfo& info) {
  if (payload.size() < 2)
    return Invalid("the NBD server broke the protocol (an empty info reply)");
  const uint16_t type = Be16(payload.data());
  const uint8_t* p = payload.data() + 2;
  switch (type) {
    case kInfoExport:
      if (payload.size() != 12)
        return Invalid("the NBD server broke the protocol (export info of " +
                       std::to_string(payload.size()) + " bytes)");
      info.size = Be64(p);
      info.flags = Be16(p + 8);
      return type;
    case kInfoBlockSize:
      if (payload.size() != 14)
        return Invalid(
            "the NBD server broke the protocol (block size info "
            "of " +
            std::to_string(payload.size()) + " bytes)");
      info.has_block_size = true;
      info.min_block = Be32(p);
      info.preferred_block = Be32(p + 4);
      info.max_block = Be32(p + 8);
      return type;
    default:
      return type;
  }
}

std::string GoErrorText(uint32_t type, std::string_view export_name,
                        std::string_view message) {
  const std::string name = "export '" + std::string(export_name) + "'";
  std::string text;
  switch (type) {
    case kRepErrUnknown:
      text = name + " does not exist on the NBD server";
      break;
    case kRepErrUnsup:
      text = "the NBD server does not support NBD_OPT_GO (too old)";
      break;
    case kRepErrTlsReqd:
      text =
          "the NBD server requires TLS, which the nbd target does not "
          "speak";
      break;
    case kRepErrPolicy:
      text = "the NBD server refused " + name + " (policy)";
      break;
    case kRepErrShutdown:
      text = "the NBD server is shutting down";
      break;
    case kRepErrBlockSizeReqd:
      text = "the NBD server requires block size negotiation for " + name;
      break;
    case kRepErrInvalid:
      text = "the NBD server found the request for " + name + " invalid";
      break;
    default:
      if (type & kRepErrorBit)
        text = "the NBD server refused " + name + " (error " +
               std::to_string(type & ~kRepErrorBit) + ")";
      else
        text = "the NBD server broke the protocol (reply type " +
               std::to_string(type) + " to NBD_OPT_GO)";
  }
  // The server's own words, when it sent any printable ones.
  std::string said;
  for (char c : message.substr(0, 200))
    if (c >= 0x20 && c < 0x7f) said += c;
  if (!said.empty()) text += ": " + said;
  return text;
}

Result<void> CheckExportInfo(const ExportInfo& info) {
  if (!(info.flags & kHasFlags))
    return Invalid(
        "the NBD server broke the protocol (transmission flags "
        "without NBD_FLAG_HAS_FLAGS)");
  if (!info.has_block_size) return {};
  if (!PowerOfTwo(info.min_block) || !PowerOfTwo(info.preferred_block) ||
      info.min_block > info.preferred_block || info.min_block > (64u << 10) ||
      info.max_block < info.preferred_block)
    return Invalid(
        "the NBD server sent block sizes the nbd target cannot "
        "use (minimum " +
        std::to_string(info.min_block) + ", preferred " +
        std::to_string(info.preferred_block) + ", maximum " +
        std::to_string(info.max_block) + ")");
  return {};
}

void EncodeRequest(uint8_t* out, uint16_t cmd, uint16_t flags, uint64_t cookie,
                   uint64_t offset, uint32_t length) noexcept {
  Put32(out, kRequestMagic);
  Put16(out + 4, flags);
  Put16(out + 6, cmd);
  Put64(out + 8, cookie);
  Put64(out + 16, offset);
  Put32(out + 24, length);
}

SimpleReply ParseSimpleReply(const uint8_t* in) noexcept {
  const uint32_t magic = Be32(in);
  SimpleReply r{SimpleReply::Status::kOk, Be32(in + 4), Be64(in + 8)};
  if (magic == kStructuredReplyMagic)
    r.status = SimpleReply::Status::kStructured;
  else if (magic != kSimpleReplyMagic)
    r.status = SimpleReply::Status::kBadMagic;
  return r;
}

int ReplyErrno(uint32_t error) noexcept {
  switch (error) {
    case 1:
      return -EPERM;
    case 5:
      return -EIO;
    case 12:
      return -ENOMEM;
    case 22:
      return -EINVAL;
    case 28:
      return -ENOSPC;
    case 75:
      return -EOVERFLOW;
    case 95:
      return -EOPNOTSUPP;
    default:
      return -EIO;  // ESHUTDOWN (108) and anything unknown
  }
}

}  // namespace ublk::nbd

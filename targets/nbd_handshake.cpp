#include "nbd_handshake.h"

#include <array>
#include <string>
#include <vector>

namespace ublk::nbd {
namespace {

// More replies than any server sends to one NBD_OPT_GO: a server that keeps
// talking is broken.
constexpr int kMaxGoReplies = 64;

}  // namespace

Result<ExportInfo> Handshake(Stream& s, std::string_view export_name,
                             bool structured) {
  if (export_name.size() > kMaxExportName)
    return Invalid("the export name is longer than 4096 bytes");
  std::array<uint8_t, kGreetingBytes> greeting;
  UBLK_RETURN_IF_ERROR(s.Read(greeting));
  auto flags = ParseGreeting(greeting);
  if (!flags) return flags.error();
  UBLK_RETURN_IF_ERROR(s.Write(BuildClientFlags(*flags)));

  // Structured replies when the server has them; simple ones when it
  // answers with any error.
  ExportInfo info;
  std::vector<uint8_t> payload;
  if (structured) {
    UBLK_RETURN_IF_ERROR(s.Write(BuildStructuredReplyOption()));
    std::array<uint8_t, kOptReplyHeaderBytes> raw;
    UBLK_RETURN_IF_ERROR(s.Read(raw));
    auto h = ParseOptReplyHeader(raw, kOptStructuredReply);
    if (!h) return h.error();
    payload.resize(h->length);
    UBLK_RETURN_IF_ERROR(s.Read(payload));
    if (h->type == kRepAck)
      info.structured_replies = true;
    else if (!(h->type & kRepErrorBit))
      return Invalid("the NBD server broke the protocol (reply type " +
                     std::to_string(h->type) + " to NBD_OPT_STRUCTURED_REPLY)");
  }

  UBLK_RETURN_IF_ERROR(s.Write(BuildGoOption(export_name)));
  bool got_export = false;
  for (int i = 0; i < kMaxGoReplies; ++i) {
    std::array<uint8_t, kOptReplyHeaderBytes> raw;
    UBLK_RETURN_IF_ERROR(s.Read(raw));
    auto h = ParseOptReplyHeader(raw, kOptGo);
    if (!h) return h.error();
    payload.resize(h->length);
    UBLK_RETURN_IF_ERROR(s.Read(payload));
    if (h->type == kRepInfo) {
      auto type = ApplyInfo(payload, info);
      if (!type) return type.error();
      if (*type == kInfoExport) got_export = true;
      continue;
    }
    if (h->type == kRepAck) {
      if (!got_export)
        return Invalid(
            "the NBD server broke the protocol (NBD_OPT_GO "
            "acknowledged without export info)");
      UBLK_RETURN_IF_ERROR(CheckExportInfo(info));
      return info;
    }
    return Invalid(GoErrorText(
        h->type, export_name,
        std::string_view(reinterpret_cast<const char*>(payload.data()),
                         payload.size())));
  }
  return Invalid(
      "the NBD server broke the protocol (too many replies to "
      "NBD_OPT_GO)");
}

}  // namespace ublk::nbd

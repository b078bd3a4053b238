// libFuzzer harness: what an NBD server or a user hands the nbd target.
// The first byte picks the parser: an NBD URI (-f), the server's side of
// the handshake (greeting, option replies, infos), or a stream of simple
// reply headers. Any bytes must give a value or an Error, never a crash,
// leak, hang or undefined behaviour; an accepted URI must name its parts
// within their limits and an accepted export must pass CheckExportInfo.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

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
  const uint8_t mode = data[0] % 3;
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
  } else {
    for (size_t off = 0; off + ublk::nbd::kSimpleReplyBytes <= size;
         off += ublk::nbd::kSimpleReplyBytes) {
      const auto r = ublk::nbd::ParseSimpleReply(data + off);
      (void)ublk::nbd::ReplyErrno(r.error);
    }
  }
  return 0;
}

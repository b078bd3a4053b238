// nbd-fake-server: a test-only NBD server that breaks the protocol on
// purpose, for the kernel tier (tests/kernel/cases/nbd_faults.sh). Not part
// of the Debian package.
//
//   nbd-fake-server --socket PATH --size BYTES --fault FAULT [--at OFFSET]
//
// Listens on the Unix socket PATH and serves one export ("disk", any name
// but "nope" is accepted unless the fault says otherwise) of BYTES bytes of
// memory, one connection at a time, with fixed newstyle and NBD_OPT_GO.
// It refuses NBD_OPT_STRUCTURED_REPLY (simple replies) unless the fault is
// "structured" or a chunk fault; with structured replies a READ's reply is
// two chunks (the second half first, as OFFSET_HOLE when it is all zeros;
// then the first half, with DONE), a WRITE's a simple reply, any other a
// NONE chunk, an error an ERROR chunk.
// Handshake faults hit every connection:
//   none                  behave (simple replies)
//   structured            behave (structured replies)
//   close-in-handshake    close the connection after reading NBD_OPT_GO
//   bad-greeting-magic    greet with a magic that is not NBDMAGIC
//   unknown-export        answer NBD_OPT_GO with NBD_REP_ERR_UNKNOWN
//   bad-option-magic      an option reply with a wrong magic
//   wrong-option          an option reply answering another option
//   short-option-reply    an option reply cut short, then close
//   oversize-option-reply an option reply claiming 1 MiB of data
// Transmission faults hit the first READ whose range holds OFFSET (--at,
// default 1 MiB), once; the connections after it are served correctly:
//   reply-bad-magic       a reply header with a wrong magic
//   reply-wrong-cookie    a reply carrying a cookie of no request
//   reply-oversize        a READ reply with 4 KiB more data than asked
//   reply-short           a READ reply with half its data, then close
// and with structured replies:
//   chunk-wrong-cookie    a chunk carrying a cookie of no request
//   chunk-data-outside    data at an offset past the READ's range
//   chunk-hole-outside    a hole reaching past the READ's range
//   chunk-oversize        one data chunk with 4 KiB more than asked
//   chunk-none-without-done  a NONE chunk without the DONE flag
//   chunk-unknown-type    a chunk of type 6, unknown and not an error
//   chunk-short-cover     half the data, then NONE with DONE
//   chunk-simple-read     a simple reply with the data
//   chunk-error           an ERROR_OFFSET chunk (EIO) with DONE
//   chunk-unknown-error   a chunk of error type 0x8009 with DONE
//   chunk-close-before-done  the first chunk, then close
// It prints "listening" on stdout once the socket accepts, and serves until
// killed. The numbers are big-endian, as NetworkBlockDevice/nbd
// doc/proto.md says.
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace {

enum class Fault {
  kNone,
  kCloseInHandshake,
  kBadGreetingMagic,
  kUnknownExport,
  kBadOptionMagic,
  kWrongOption,
  kShortOptionReply,
  kOversizeOptionReply,
  kReplyBadMagic,
  kReplyWrongCookie,
  kReplyOversize,
  kReplyShort,
  kStructured,  // the structured faults from here on
  kChunkWrongCookie,
  kChunkDataOutside,
  kChunkHoleOutside,
  kChunkOversize,
  kChunkNoneWithoutDone,
  kChunkUnknownType,
  kChunkShortCover,
  kChunkSimpleRead,
  kChunkError,
  kChunkUnknownError,
  kChunkCloseBeforeDone,
};

struct FaultName {
  const char* name;
  Fault fault;
};
constexpr FaultName kFaults[] = {
    {"none", Fault::kNone},
    {"close-in-handshake", Fault::kCloseInHandshake},
    {"bad-greeting-magic", Fault::kBadGreetingMagic},
    {"unknown-export", Fault::kUnknownExport},
    {"bad-option-magic", Fault::kBadOptionMagic},
    {"wrong-option", Fault::kWrongOption},
    {"short-option-reply", Fault::kShortOptionReply},
    {"oversize-option-reply", Fault::kOversizeOptionReply},
    {"reply-bad-magic", Fault::kReplyBadMagic},
    {"reply-wrong-cookie", Fault::kReplyWrongCookie},
    {"reply-oversize", Fault::kReplyOversize},
    {"reply-short", Fault::kReplyShort},
    {"structured", Fault::kStructured},
    {"chunk-wrong-cookie", Fault::kChunkWrongCookie},
    {"chunk-data-outside", Fault::kChunkDataOutside},
    {"chunk-hole-outside", Fault::kChunkHoleOutside},
    {"chunk-oversize", Fault::kChunkOversize},
    {"chunk-none-without-done", Fault::kChunkNoneWithoutDone},
    {"chunk-unknown-type", Fault::kChunkUnknownType},
    {"chunk-short-cover", Fault::kChunkShortCover},
    {"chunk-simple-read", Fault::kChunkSimpleRead},
    {"chunk-error", Fault::kChunkError},
    {"chunk-unknown-error", Fault::kChunkUnknownError},
    {"chunk-close-before-done", Fault::kChunkCloseBeforeDone},
};

constexpr uint64_t kInitMagic = 0x4e42444d41474943ull;
constexpr uint64_t kOptMagic = 0x49484156454f5054ull;
constexpr uint64_t kOptReplyMagic = 0x0003e889045565a9ull;
constexpr uint32_t kRequestMagic = 0x25609513u;
constexpr uint32_t kSimpleReplyMagic = 0x67446698u;
constexpr uint32_t kChunkMagic = 0x668e33efu;
constexpr uint32_t kOptAbort = 2, kOptGo = 7, kOptStructuredReply = 8;
constexpr uint16_t kFlagDone = 1;
constexpr uint16_t kTypeNone = 0, kTypeData = 1, kTypeHole = 2;
constexpr uint16_t kTypeErrorOffset = 0x8002;
constexpr uint32_t kRepAck = 1, kRepInfo = 3;
constexpr uint32_t kRepErrUnsup = 0x80000001u, kRepErrUnknown = 0x80000006u;
constexpr uint16_t kTransmissionFlags = 1 | 4 | 8;  // HAS_FLAGS, FLUSH, FUA
constexpr uint16_t kCmdRead = 0, kCmdWrite = 1, kCmdDisc = 2;

struct Buf {
  std::vector<uint8_t> b;
  Buf& U16(uint16_t v) {
    b.push_back(static_cast<uint8_t>(v >> 8));
    b.push_back(static_cast<uint8_t>(v));
    return *this;
  }
  Buf& U32(uint32_t v) {
    return U16(static_cast<uint16_t>(v >> 16)).U16(static_cast<uint16_t>(v));
  }
  Buf& U64(uint64_t v) {
    return U32(static_cast<uint32_t>(v >> 32)).U32(static_cast<uint32_t>(v));
  }
};

uint32_t Get32(const uint8_t* p) {
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 |
         p[3];
}
uint64_t Get64(const uint8_t* p) {
  return uint64_t{Get32(p)} << 32 | Get32(p + 4);
}

bool ReadAll(int fd, void* to, size_t n) {
  auto* p = static_cast<uint8_t*>(to);
  while (n != 0) {
    const ssize_t r = ::recv(fd, p, n, 0);
    if (r <= 0 && !(r < 0 && errno == EINTR)) return false;
    if (r > 0) {
      p += r;
      n -= static_cast<size_t>(r);
    }
  }
  return true;
}

bool WriteAll(int fd, const void* from, size_t n) {
  auto* p = static_cast<const uint8_t*>(from);
  while (n != 0) {
    const ssize_t r = ::send(fd, p, n, MSG_NOSIGNAL);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    p += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}
bool Send(int fd, const Buf& b) { return WriteAll(fd, b.b.data(), b.b.size()); }

Buf OptReply(uint64_t magic, uint32_t option, uint32_t type, uint32_t length) {
  Buf b;
  b.U64(magic).U32(option).U32(type).U32(length);
  return b;
}

class Server {
 public:
  Server(Fault fault, uint64_t size, uint64_t at)
      : fault_(fault), data_(size), at_(at) {}

  // Serves one connection until it closes or a fault ends it.
  void Serve(int fd) {
    if (Handshake(fd)) Transmit(fd);
    ::close(fd);
  }

 private:
  // True once NBD_OPT_GO succeeded.
  bool Handshake(int fd) {
    structured_ = false;
    Buf greeting;
    greeting
        .U64(fault_ == Fault::kBadGreetingMagic ? 0x1122334455667788ull
                                                : kInitMagic)
        .U64(kOptMagic)
        .U16(1 | 2);  // FIXED_NEWSTYLE, NO_ZEROES
    if (!Send(fd, greeting)) return false;
    uint8_t client_flags[4];
    if (!ReadAll(fd, client_flags, 4)) return false;
    for (;;) {
      uint8_t h[16];
      if (!ReadAll(fd, h, sizeof h) || Get64(h) != kOptMagic) return false;
      const uint32_t option = Get32(h + 8), length = Get32(h + 12);
      if (length > 8192) return false;
      std::vector<uint8_t> payload(length);
      if (!ReadAll(fd, payload.data(), length)) return false;
      if (option == kOptAbort) return false;
      if (option == kOptStructuredReply && fault_ >= Fault::kStructured) {
        if (!Send(fd, OptReply(kOptReplyMagic, option, kRepAck, 0)))
          return false;
        structured_ = true;
        continue;
      }
      if (option != kOptGo) {
        if (!Send(fd, OptReply(kOptReplyMagic, option, kRepErrUnsup, 0)))
          return false;
        continue;
      }
      return Go(fd, payload);
    }
  }

  bool Go(int fd, const std::vector<uint8_t>& payload) {
    if (payload.size() < 4) return false;
    const uint32_t name_len = Get32(payload.data());
    if (name_len > payload.size() - 4) return false;
    const std::string name(payload.begin() + 4, payload.begin() + 4 + name_len);
    Buf info;  // NBD_INFO_EXPORT
    info.U16(0).U64(data_.size()).U16(kTransmissionFlags);
    switch (fault_) {
      case Fault::kCloseInHandshake:
        return false;
      case Fault::kUnknownExport: {
        const std::string_view text = "no such export";
        Buf b = OptReply(kOptReplyMagic, kOptGo, kRepErrUnknown,
                         static_cast<uint32_t>(text.size()));
        b.b.insert(b.b.end(), text.begin(), text.end());
        Send(fd, b);
        return false;
      }
      case Fault::kBadOptionMagic:
        Send(fd, OptReply(kOptReplyMagic ^ 1, kOptGo, kRepInfo, 12));
        Send(fd, info);
        return false;
      case Fault::kWrongOption:
        Send(fd, OptReply(kOptReplyMagic, kOptGo + 1, kRepInfo, 12));
        Send(fd, info);
        return false;
      case Fault::kShortOptionReply: {
        Send(fd, OptReply(kOptReplyMagic, kOptGo, kRepInfo, 12));
        WriteAll(fd, info.b.data(), 6);
        return false;
      }
      case Fault::kOversizeOptionReply:
        Send(fd, OptReply(kOptReplyMagic, kOptGo, kRepInfo, 1u << 20));
        Send(fd, info);
        return false;
      default:
        break;
    }
    Buf b = OptReply(kOptReplyMagic, kOptGo, kRepInfo, 12);
    b.b.insert(b.b.end(), info.b.begin(), info.b.end());
    const Buf ack = OptReply(kOptReplyMagic, kOptGo, kRepAck, 0);
    b.b.insert(b.b.end(), ack.b.begin(), ack.b.end());
    return Send(fd, b);
  }

  void Transmit(int fd) {
    for (;;) {
      uint8_t h[28];
      if (!ReadAll(fd, h, sizeof h) || Get32(h) != kRequestMagic) return;
      const uint16_t cmd = static_cast<uint16_t>(h[6] << 8 | h[7]);
      const uint64_t cookie = Get64(h + 8), offset = Get64(h + 16);
      const uint32_t length = Get32(h + 24);
      if (cmd == kCmdDisc) return;
      const bool in_range =
          offset <= data_.size() && length <= data_.size() - offset;
      if (cmd == kCmdWrite) {
        std::vector<uint8_t> in(length);
        if (!ReadAll(fd, in.data(), length)) return;
        if (in_range) std::memcpy(data_.data() + offset, in.data(), length);
      }
      const bool hit = !fired_ && cmd == kCmdRead &&
                       fault_ >= Fault::kReplyBadMagic &&
                       fault_ != Fault::kStructured && offset <= at_ &&
                       at_ < offset + length;
      if (hit) {
        fired_ = true;
        std::fprintf(stderr, "nbd-fake-server: %s at offset %llu\n", Name(),
                     static_cast<unsigned long long>(offset));
      }
      if (structured_ && (cmd != kCmdWrite || !in_range) &&
          !(hit && fault_ == Fault::kChunkSimpleRead)) {
        if (!SendChunks(fd, cmd, cookie, offset, length, in_range,
                        hit ? fault_ : Fault::kStructured))
          return;
        continue;
      }
      Buf reply;
      reply
          .U32(hit && fault_ == Fault::kReplyBadMagic ? 0xdeadbeefu
                                                      : kSimpleReplyMagic)
          .U32(in_range ? 0 : 22)
          .U64(hit && fault_ == Fault::kReplyWrongCookie
                   ? cookie ^ 0x5a5a0000ull
                   : cookie);
      if (cmd == kCmdRead && in_range) {
        const uint8_t* p = data_.data() + offset;
        size_t n = length;
        if (hit && fault_ == Fault::kReplyShort) n = length / 2;
        reply.b.insert(reply.b.end(), p, p + n);
        if (hit && fault_ == Fault::kReplyOversize)
          reply.b.resize(reply.b.size() + 4096, 0xa5);
      }
      if (!Send(fd, reply)) return;
      if (hit && fault_ == Fault::kReplyShort) return;
    }
  }

  static Buf Chunk(uint64_t cookie, uint16_t flags, uint16_t type,
                   uint32_t length) {
    Buf b;
    b.U32(kChunkMagic).U16(flags).U16(type).U64(cookie).U32(length);
    return b;
  }

  // Data (or a hole, when `hole` allows and the bytes are all zero) for
  // [offset, offset + n) of the export, told as being at `at`.
  Buf DataChunk(uint64_t cookie, uint16_t flags, uint64_t offset, uint32_t n,
                uint64_t at, bool hole) const {
    const uint8_t* p = data_.data() + offset;
    bool zero = hole;
    for (uint32_t i = 0; zero && i < n; ++i) zero = p[i] == 0;
    if (zero) {
      Buf b = Chunk(cookie, flags, kTypeHole, 12);
      b.U64(at).U32(n);
      return b;
    }
    Buf b = Chunk(cookie, flags, kTypeData, 8 + n);
    b.U64(at);
    b.b.insert(b.b.end(), p, p + n);
    return b;
  }

  // The structured reply to one request, broken as `f` says.
  bool SendChunks(int fd, uint16_t cmd, uint64_t cookie, uint64_t offset,
                  uint32_t length, bool in_range, Fault f) {
    Buf out;
    auto add = [&out](const Buf& b) {
      out.b.insert(out.b.end(), b.b.begin(), b.b.end());
    };
    if (!in_range) {
      Buf e = Chunk(cookie, kFlagDone, kTypeErrorOffset, 4 + 2 + 8);
      e.U32(22).U16(0).U64(offset);
      return Send(fd, e);
    }
    if (cmd != kCmdRead || length == 0) {
      add(Chunk(cookie, kFlagDone, kTypeNone, 0));
      return Send(fd, out);
    }
    const uint32_t half = length / 2;
    switch (f) {
      case Fault::kChunkWrongCookie:
        add(Chunk(cookie ^ 0x5a5a0000ull, kFlagDone, kTypeNone, 0));
        break;
      case Fault::kChunkDataOutside:
        add(DataChunk(cookie, kFlagDone, offset, length, offset + length,
                      false));
        break;
      case Fault::kChunkHoleOutside: {
        Buf h = Chunk(cookie, kFlagDone, kTypeHole, 12);
        h.U64(offset + half).U32(length);
        add(h);
        break;
      }
      case Fault::kChunkOversize: {
        Buf d = DataChunk(cookie, kFlagDone, offset, length, offset, false);
        const uint32_t claimed = 8 + length + 4096;
        for (int i = 0; i < 4; ++i)
          d.b[16 + i] = static_cast<uint8_t>(claimed >> (24 - 8 * i));
        d.b.resize(d.b.size() + 4096, 0xa5);
        add(d);
        break;
      }
      case Fault::kChunkNoneWithoutDone:
        add(Chunk(cookie, 0, kTypeNone, 0));
        break;
      case Fault::kChunkUnknownType: {
        Buf u = Chunk(cookie, kFlagDone, 6, 4);
        u.U32(0);
        add(u);
        break;
      }
      case Fault::kChunkShortCover:
        add(DataChunk(cookie, 0, offset, half, offset, false));
        add(Chunk(cookie, kFlagDone, kTypeNone, 0));
        break;
      case Fault::kChunkError: {
        const std::string_view text = "injected";
        Buf e = Chunk(cookie, kFlagDone, kTypeErrorOffset,
                      static_cast<uint32_t>(4 + 2 + text.size() + 8));
        e.U32(5).U16(static_cast<uint16_t>(text.size()));
        e.b.insert(e.b.end(), text.begin(), text.end());
        e.U64(offset + half);
        add(e);
        break;
      }
      case Fault::kChunkUnknownError: {
        Buf e = Chunk(cookie, kFlagDone, 0x8009, 6);
        e.U32(5).U16(0);
        add(e);
        break;
      }
      case Fault::kChunkCloseBeforeDone:
        add(DataChunk(cookie, 0, offset + half, length - half, offset + half,
                      false));
        Send(fd, out);
        return false;
      default:  // behave
        add(DataChunk(cookie, 0, offset + half, length - half, offset + half,
                      true));
        add(DataChunk(cookie, kFlagDone, offset, half, offset, true));
        break;
    }
    return Send(fd, out);
  }

  const char* Name() const {
    for (const FaultName& f : kFaults)
      if (f.fault == fault_) return f.name;
    return "?";
  }

  Fault fault_;
  std::vector<uint8_t> data_;
  uint64_t at_;
  bool fired_ = false;
  bool structured_ = false;  // this connection's replies
};

[[noreturn]] void Usage(const char* why) {
  std::fprintf(
      stderr,
      "nbd-fake-server: %s\nusage: nbd-fake-server --socket PATH --size BYTES "
      "--fault FAULT [--at OFFSET]\n",
      why);
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  std::string path;
  uint64_t size = 16u << 20, at = 1u << 20;
  Fault fault = Fault::kNone;
  bool have_fault = false;
  for (int i = 1; i < argc; i += 2) {
    const std::string_view opt = argv[i];
    if (i + 1 >= argc) Usage("an option without its value");
    const char* val = argv[i + 1];
    if (opt == "--socket") {
      path = val;
    } else if (opt == "--size") {
      size = std::strtoull(val, nullptr, 0);
    } else if (opt == "--at") {
      at = std::strtoull(val, nullptr, 0);
    } else if (opt == "--fault") {
      for (const FaultName& f : kFaults)
        if (std::string_view(f.name) == val) {
          fault = f.fault;
          have_fault = true;
        }
      if (!have_fault) Usage("unknown fault");
    } else {
      Usage("unknown option");
    }
  }
  if (path.empty() || !have_fault || size == 0 || size > (1ull << 30))
    Usage("--socket, --fault and a size of at most 1 GiB are needed");
  ::signal(SIGPIPE, SIG_IGN);

  const int lfd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  if (path.size() >= sizeof sa.sun_path) Usage("socket path too long");
  std::memcpy(sa.sun_path, path.data(), path.size());
  ::unlink(path.c_str());
  if (lfd < 0 ||
      ::bind(lfd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 ||
      ::listen(lfd, 8) != 0) {
    std::fprintf(stderr, "nbd-fake-server: cannot listen on %s: %s\n",
                 path.c_str(), std::strerror(errno));
    return 1;
  }
  std::printf("listening\n");
  std::fflush(stdout);
  Server server(fault, size, at);
  for (;;) {
    const int fd = ::accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR) continue;
      std::fprintf(stderr, "nbd-fake-server: accept: %s\n",
                   std::strerror(errno));
      return 1;
    }
    server.Serve(fd);
  }
}

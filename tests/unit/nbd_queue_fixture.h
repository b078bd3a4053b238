// The nbd queue test fixture: a real io_uring over a socketpair, with the
// test as the NBD server (no ublk_drv, no root). nbd_queue_test.cpp drives
// it in copy mode, nbd_queue_zero_copy_test.cpp with the request buffers
// registered as fixed buffers.
#pragma once

#include <gtest/gtest.h>
#include <liburing.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "nbd_chunk.h"
#include "nbd_proto.h"
#include "nbd_queue.h"
#include "ublk/abi.h"
#include "ublk/user_data.h"

namespace ublk::nbd {

constexpr uint16_t kDepth = 8;

inline uint64_t Be(const uint8_t* p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v = v << 8 | p[i];
  return v;
}

struct WireRequest {
  uint16_t flags, cmd;
  uint64_t cookie, offset;
  uint32_t length;
};

class NbdQueueTest : public ::testing::Test {
 public:
  void SetUp() override {
    ASSERT_EQ(io_uring_queue_init(64, &ring_, 0), 0);
    ASSERT_EQ(io_uring_register_files_sparse(&ring_, kFileSlots), 0);
    int sv[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    link_.conn.socket = Fd(sv[0]);
    server_ = Fd(sv[1]);
    ctx_ = std::make_unique<QueueContext>(&ring_, 0, kDepth, 64, 1);
    ctx_->SetFinisher(&NbdQueueTest::Finished, this);
    auto slot = ctx_->AddFile(link_.conn.socket.get());
    ASSERT_TRUE(slot);
    file_ = *slot;
    queue_ = MakeNbdQueue(link_, file_, 0, kDepth, /*zero_copy=*/false);
    for (auto& b : bufs_) b.assign(kBuf + kGuard, 0xee);
  }
  // The queue again, on a connection that negotiated structured replies.
  void UseStructuredReplies() {
    queue_.reset();
    link_.conn.info.structured_replies = true;
    queue_ = MakeNbdQueue(link_, file_, 0, kDepth, /*zero_copy=*/false);
    EXPECT_TRUE(link_.structured.load());
  }
  // The queue again, in zero-copy mode: each request's buffer is fixed
  // buffer `tag` of the ring, which the queue reaches only through
  // READ_FIXED and WRITE_FIXED (a ublk request's registered pages stand
  // in the same place of a real ring).
  void UseZeroCopy() {
    queue_.reset();
    std::vector<iovec> iov;
    for (auto& b : bufs_) iov.push_back({b.data(), kBuf});
    ASSERT_EQ(io_uring_register_buffers(&ring_, iov.data(), iov.size()), 0);
    queue_ = MakeNbdQueue(link_, file_, 0, kDepth, /*zero_copy=*/true);
  }
  void TearDown() override {
    queue_.reset();
    ctx_.reset();
    io_uring_queue_exit(&ring_);
  }

  static void Finished(void* self, uint16_t tag, int result) noexcept {
    static_cast<NbdQueueTest*>(self)->results_[tag] = result;
  }

  Request Req(uint16_t tag, uint8_t op, uint64_t off, uint32_t len) {
    Request r{};
    r.tag = tag;
    r.op = op;
    r.offset = off;
    r.length = len;
    r.buf_addr = reinterpret_cast<uintptr_t>(bufs_[tag].data());
    r.buf_index = tag;
    return r;
  }
  void Submit(const Request& r) {
    ctx_->BeginIo(r.tag);
    IoStatus st = queue_->Queue(*ctx_, r);
    ctx_->EndIo();
    EXPECT_TRUE(st.pending());
  }

  // Submits and runs completions until `tag` has a result (or 10 s).
  int Await(uint16_t tag) {
    for (int i = 0; i < 1000 && !results_.count(tag); ++i) Pump(10);
    return results_.count(tag) ? results_[tag] : 1;
  }
  void Pump(int ms) {
    __kernel_timespec ts{0, ms * 1000000LL};
    io_uring_cqe* cqe = nullptr;
    io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, &ts, nullptr);
    unsigned head, seen = 0;
    io_uring_for_each_cqe(&ring_, head, cqe) {
      UserData ud = DecodeUserData(cqe->user_data);
      if (ud.op == UserOp::kTargetQueue)
        queue_->CompleteQueueOp(*ctx_,
                                Completion{cqe->res, ud.target_data, nullptr});
      ++seen;
    }
    io_uring_cq_advance(&ring_, seen);
  }

  // The server's side.
  WireRequest ReadRequest() {
    Pump(1);
    uint8_t b[kRequestBytes];
    EXPECT_TRUE(ReadAll(b, sizeof(b)));
    EXPECT_EQ(Be(b, 4), kRequestMagic);
    return {static_cast<uint16_t>(Be(b + 4, 2)),
            static_cast<uint16_t>(Be(b + 6, 2)), Be(b + 8, 8), Be(b + 16, 8),
            static_cast<uint32_t>(Be(b + 24, 4))};
  }
  // Reads from the server's end, running the queue meanwhile (10 s).
  bool ReadAll(uint8_t* p, size_t n) {
    for (int waits = 0; n != 0;) {
      pollfd pf{server_.get(), POLLIN, 0};
      if (::poll(&pf, 1, 0) != 1) {
        if (++waits > 1000) return false;
        Pump(10);
        continue;
      }
      ssize_t r = ::recv(server_.get(), p, n, 0);
      if (r <= 0) return false;
      p += r;
      n -= static_cast<size_t>(r);
    }
    return true;
  }
  // The server's side of a handshake on a new connection from the
  // Reconnector: greeting, an answer to NBD_OPT_STRUCTURED_REPLY (ACK when
  // `structured`), then INFO export and ACK to its NBD_OPT_GO.
  void ServeHandshake(int listener, bool structured = false) {
    pollfd pf{listener, POLLIN, 0};
    ASSERT_EQ(::poll(&pf, 1, 10000), 1);
    server_ = Fd(::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC));
    ASSERT_TRUE(server_.valid());
    std::vector<uint8_t> out;
    auto put = [&out](uint64_t v, int n) {
      for (int i = n - 1; i >= 0; --i)
        out.push_back(static_cast<uint8_t>(v >> (8 * i)));
    };
    put(kInitMagic, 8);
    put(kOptMagic, 8);
    put(kFlagFixedNewstyle, 2);
    ASSERT_EQ(::send(server_.get(), out.data(), out.size(), 0), 18);
    uint8_t in[4 + 16];
    ASSERT_TRUE(ReadAll(in, 4));   // client flags
    ASSERT_TRUE(ReadAll(in, 16));  // an option's header
    // NBD_OPT_STRUCTURED_REPLY unless the client asks for simple replies
    // only (zero copy).
    if (Be(in + 8, 4) == kOptStructuredReply) {
      out.clear();
      put(kOptReplyMagic, 8);
      put(kOptStructuredReply, 4);
      put(structured ? kRepAck : kRepErrUnsup, 4);
      put(0, 4);
      ASSERT_EQ(::send(server_.get(), out.data(), out.size(), 0), 20);
      ASSERT_TRUE(ReadAll(in, 16));  // NBD_OPT_GO's header
    }
    ASSERT_EQ(Be(in + 8, 4), kOptGo);
    std::vector<uint8_t> data(Be(in + 12, 4));
    ASSERT_TRUE(ReadAll(data.data(), data.size()));
    out.clear();
    put(kOptReplyMagic, 8);
    put(kOptGo, 4);
    put(kRepInfo, 4);
    put(12, 4);
    put(kInfoExport, 2);
    put(kExportSize, 8);
    put(kHasFlags, 2);
    put(kOptReplyMagic, 8);
    put(kOptGo, 4);
    put(kRepAck, 4);
    put(0, 4);
    ASSERT_EQ(::send(server_.get(), out.data(), out.size(), 0),
              static_cast<ssize_t>(out.size()));
  }
  // A listening Unix socket at `path`, and the queue's Reconnector to it.
  Fd ListenAndReconnectTo(const std::string& path, int timeout_s,
                          bool structured = true) {
    ::unlink(path.c_str());
    Fd l(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::strncpy(sa.sun_path, path.c_str(), sizeof(sa.sun_path) - 1);
    EXPECT_EQ(::bind(l.get(), reinterpret_cast<sockaddr*>(&sa), sizeof(sa)), 0);
    EXPECT_EQ(::listen(l.get(), 4), 0);
    Address a;
    a.kind = Address::Kind::kUnix;
    a.socket_path = path;
    ExportInfo info;
    info.size = kExportSize;
    info.flags = kHasFlags;
    auto r = Reconnector::Start(a, info, std::chrono::seconds(timeout_s), 0,
                                structured);
    EXPECT_TRUE(r);
    if (r) link_.reconnector = std::move(*r);
    return l;
  }

  void Reply(uint64_t cookie, uint32_t error,
             const std::vector<uint8_t>& data = {},
             uint32_t magic = kSimpleReplyMagic) {
    std::vector<uint8_t> b;
    for (int i = 3; i >= 0; --i)
      b.push_back(static_cast<uint8_t>(magic >> (8 * i)));
    for (int i = 3; i >= 0; --i)
      b.push_back(static_cast<uint8_t>(error >> (8 * i)));
    for (int i = 7; i >= 0; --i)
      b.push_back(static_cast<uint8_t>(cookie >> (8 * i)));
    b.insert(b.end(), data.begin(), data.end());
    ASSERT_EQ(::send(server_.get(), b.data(), b.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(b.size()));
  }
  // One structured reply chunk.
  void Chunk(uint64_t cookie, uint16_t flags, uint16_t type,
             const std::vector<uint8_t>& payload, int64_t length = -1) {
    std::vector<uint8_t> b;
    auto put = [&b](uint64_t v, int n) {
      for (int i = n - 1; i >= 0; --i)
        b.push_back(static_cast<uint8_t>(v >> (8 * i)));
    };
    put(kStructuredReplyMagic, 4);
    put(flags, 2);
    put(type, 2);
    put(cookie, 8);
    put(length < 0 ? payload.size() : static_cast<uint64_t>(length), 4);
    b.insert(b.end(), payload.begin(), payload.end());
    ASSERT_EQ(::send(server_.get(), b.data(), b.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(b.size()));
  }
  static std::vector<uint8_t> Fields(
      std::initializer_list<std::pair<uint64_t, int>> fields, size_t fill = 0,
      uint8_t with = 0) {
    std::vector<uint8_t> b;
    for (auto [v, n] : fields)
      for (int i = n - 1; i >= 0; --i)
        b.push_back(static_cast<uint8_t>(v >> (8 * i)));
    b.resize(b.size() + fill, with);
    return b;
  }
  // After a reconnect: the READ on tag 1 (`read_len` bytes, cookie
  // `read_cookie`) and the 512-byte WRITE on tag 2 come again, the WRITE
  // with its data, nothing having failed meanwhile; answers both, the READ
  // with bytes `fill`, and checks that both finish and the READ's data is
  // in its buffer and no further. Returns the WRITE as sent again, its
  // data in `data`.
  WireRequest ServeResentReadAndWrite(uint64_t read_cookie, uint32_t read_len,
                                      uint8_t fill, uint8_t (&data)[512]) {
    WireRequest r = ReadRequest(), w = ReadRequest();
    if (r.cmd == kCmdWrite) std::swap(r, w);
    EXPECT_EQ(r.cookie, read_cookie);
    EXPECT_EQ(w.cmd, kCmdWrite);
    EXPECT_TRUE(ReadAll(data, sizeof(data)));
    EXPECT_TRUE(results_.empty());  // nothing failed meanwhile
    Reply(r.cookie, 0, std::vector<uint8_t>(read_len, fill));
    Reply(w.cookie, 0);
    EXPECT_EQ(Await(1), static_cast<int>(read_len));
    EXPECT_EQ(Await(2), 512);
    EXPECT_EQ(bufs_[1][read_len - 1], fill);
    EXPECT_TRUE(GuardIntact(1));
    return w;
  }
  bool GuardIntact(uint16_t tag) {
    for (size_t i = kBuf; i < kBuf + kGuard; ++i)
      if (bufs_[tag][i] != 0xee) return false;
    return true;
  }

  static constexpr size_t kBuf = 4096, kGuard = 4096;
  static constexpr uint64_t kExportSize = 1 << 20;
  io_uring ring_{};
  int file_ = -1;
  Link link_;
  Fd server_;
  std::unique_ptr<QueueContext> ctx_;
  std::unique_ptr<TargetQueue> queue_;
  std::vector<uint8_t> bufs_[kDepth];
  std::map<uint16_t, int> results_;
};

}  // namespace ublk::nbd

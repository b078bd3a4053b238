// The nbd target's I/O path on a real io_uring over a socketpair, with the
// test as the NBD server (no ublk_drv, no root): commands on the wire,
// replies matched by cookie, READ data into the request's buffer, and a
// server that breaks the protocol or goes away failing what is in flight
// with EIO -- never writing past a request's buffer.
#include "nbd_queue.h"

#include <gtest/gtest.h>
#include <liburing.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <vector>

#include "nbd_proto.h"
#include "ublk/abi.h"
#include "ublk/user_data.h"

namespace ublk::nbd {
namespace {

constexpr uint16_t kDepth = 8;

uint64_t Be(const uint8_t* p, int n) {
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
 protected:
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
    queue_ = MakeNbdQueue(link_, *slot, 0, kDepth);
    for (auto& b : bufs_) b.assign(kBuf + kGuard, 0xee);
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
  // Reconnector: greeting, then INFO export and ACK to its NBD_OPT_GO.
  void ServeHandshake(int listener) {
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
    ASSERT_TRUE(ReadAll(in, sizeof(in)));  // client flags, option header
    std::vector<uint8_t> data(Be(in + 16, 4));
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
  Fd ListenAndReconnectTo(const std::string& path, int timeout_s) {
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
    auto r = Reconnector::Start(a, info, std::chrono::seconds(timeout_s), 0);
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
  bool GuardIntact(uint16_t tag) {
    for (size_t i = kBuf; i < kBuf + kGuard; ++i)
      if (bufs_[tag][i] != 0xee) return false;
    return true;
  }

  static constexpr size_t kBuf = 4096, kGuard = 4096;
  static constexpr uint64_t kExportSize = 1 << 20;
  io_uring ring_{};
  Link link_;
  Fd server_;
  std::unique_ptr<QueueContext> ctx_;
  std::unique_ptr<TargetQueue> queue_;
  std::vector<uint8_t> bufs_[kDepth];
  std::map<uint16_t, int> results_;
};

TEST_F(NbdQueueTest, ReadDataLandsInTheRequestBuffer) {
  Submit(Req(3, abi::kOpRead, 8192, 1024));
  WireRequest w = ReadRequest();
  EXPECT_EQ(w.cmd, kCmdRead);
  EXPECT_EQ(w.offset, 8192u);
  EXPECT_EQ(w.length, 1024u);
  EXPECT_EQ(w.cookie & 0xffff, 3u);
  Reply(w.cookie, 0, std::vector<uint8_t>(1024, 0x5a));
  EXPECT_EQ(Await(3), 1024);
  EXPECT_EQ(bufs_[3][0], 0x5a);
  EXPECT_EQ(bufs_[3][1023], 0x5a);
  EXPECT_EQ(bufs_[3][1024], 0xee);
}

TEST_F(NbdQueueTest, WriteSendsHeaderThenDataAndFuaFlag) {
  Request r = Req(1, abi::kOpWrite, 4096, 512);
  r.op_flags = abi::kIoFFua;
  std::memset(bufs_[1].data(), 0x33, 512);
  Submit(r);
  WireRequest w = ReadRequest();
  EXPECT_EQ(w.cmd, kCmdWrite);
  EXPECT_EQ(w.flags, kCmdFlagFua);
  uint8_t data[512];
  ASSERT_TRUE(ReadAll(data, sizeof(data)));
  EXPECT_EQ(data[0], 0x33);
  EXPECT_EQ(data[511], 0x33);
  Reply(w.cookie, 0);
  EXPECT_EQ(Await(1), 512);
}

TEST_F(NbdQueueTest, RepliesInAnyOrderFinishTheirOwnRequests) {
  Submit(Req(0, abi::kOpFlush, 0, 0));
  Submit(Req(5, abi::kOpDiscard, 0, 65536));
  Submit(Req(6, abi::kOpWriteZeroes, 65536, 4096));
  WireRequest a = ReadRequest(), b = ReadRequest(), c = ReadRequest();
  EXPECT_EQ(a.cmd, kCmdFlush);
  EXPECT_EQ(b.cmd, kCmdTrim);
  EXPECT_EQ(c.cmd, kCmdWriteZeroes);
  EXPECT_EQ(c.flags & kCmdFlagNoHole, 0);
  Reply(c.cookie, 0);
  Reply(a.cookie, 0);
  Reply(b.cookie, 28);  // ENOSPC
  EXPECT_EQ(Await(6), 0);
  EXPECT_EQ(Await(0), 0);
  EXPECT_EQ(Await(5), -ENOSPC);
}

TEST_F(NbdQueueTest, ReadErrorReplyCarriesNoData) {
  Submit(Req(2, abi::kOpRead, 0, 4096));
  WireRequest w = ReadRequest();
  Reply(w.cookie, 5);
  EXPECT_EQ(Await(2), -EIO);
  // The stream is still in step: the next request works.
  results_.erase(2);
  Submit(Req(2, abi::kOpRead, 0, 512));
  w = ReadRequest();
  Reply(w.cookie, 0, std::vector<uint8_t>(512, 1));
  EXPECT_EQ(Await(2), 512);
}

TEST_F(NbdQueueTest, ReplyToNoRequestFailsEverythingInFlightWithEio) {
  Submit(Req(1, abi::kOpRead, 0, 4096));
  Submit(Req(2, abi::kOpRead, 0, 4096));
  WireRequest w = ReadRequest();
  (void)ReadRequest();
  Reply(w.cookie + (1ull << 16), 0, std::vector<uint8_t>(8192, 0x77));
  EXPECT_EQ(Await(1), -EIO);
  EXPECT_EQ(Await(2), -EIO);
  EXPECT_TRUE(GuardIntact(1));
  EXPECT_TRUE(GuardIntact(2));
  // And every later request, at once.
  ctx_->BeginIo(4);
  IoStatus st = queue_->Queue(*ctx_, Req(4, abi::kOpRead, 0, 512));
  ctx_->EndIo();
  EXPECT_FALSE(st.pending());
  EXPECT_EQ(st.result(), -EIO);
}

TEST_F(NbdQueueTest, CookieOfAnIdleTagIsAViolation) {
  Submit(Req(1, abi::kOpRead, 0, 512));
  WireRequest w = ReadRequest();
  Reply((w.cookie & ~0xffffull) | 7, 0);  // tag 7 has no request
  EXPECT_EQ(Await(1), -EIO);
}

TEST_F(NbdQueueTest, BadMagicAndStructuredRepliesFailInFlight) {
  Submit(Req(1, abi::kOpRead, 0, 512));
  WireRequest w = ReadRequest();
  Reply(w.cookie, 0, {}, 0xdeadbeef);
  EXPECT_EQ(Await(1), -EIO);
}

TEST_F(NbdQueueTest, StructuredReplyIsAViolation) {
  Submit(Req(1, abi::kOpRead, 0, 512));
  WireRequest w = ReadRequest();
  Reply(w.cookie, 0, {}, kStructuredReplyMagic);
  EXPECT_EQ(Await(1), -EIO);
  EXPECT_TRUE(GuardIntact(1));
}

TEST_F(NbdQueueTest, ServerGoneMidReplyFailsInFlight) {
  Submit(Req(1, abi::kOpRead, 0, 4096));
  WireRequest w = ReadRequest();
  Reply(w.cookie, 0, std::vector<uint8_t>(100, 1));  // short data
  server_.reset();
  EXPECT_EQ(Await(1), -EIO);
  EXPECT_TRUE(GuardIntact(1));
}

TEST_F(NbdQueueTest, ManyRequestsInFlightAtOnce) {
  for (uint16_t t = 0; t < kDepth; ++t)
    Submit(Req(t, abi::kOpRead, t * 4096ull, 4096));
  std::vector<WireRequest> ws;
  for (uint16_t t = 0; t < kDepth; ++t) ws.push_back(ReadRequest());
  for (auto it = ws.rbegin(); it != ws.rend(); ++it)
    Reply(it->cookie, 0,
          std::vector<uint8_t>(4096, static_cast<uint8_t>(it->offset >> 12)));
  for (uint16_t t = 0; t < kDepth; ++t) {
    EXPECT_EQ(Await(t), 4096);
    EXPECT_EQ(bufs_[t][4095], t);
    EXPECT_TRUE(GuardIntact(t));
  }
}

TEST_F(NbdQueueTest, RequestsInFlightAreResentOnTheNewConnection) {
  const std::string path = "/tmp/nbd_queue_test." + std::to_string(getpid());
  Fd listener = ListenAndReconnectTo(path, 30);
  Submit(Req(1, abi::kOpRead, 0, 4096));
  Submit(Req(2, abi::kOpWrite, 4096, 512));
  WireRequest r = ReadRequest();
  WireRequest w = ReadRequest();
  uint8_t data[512];
  ASSERT_TRUE(ReadAll(data, sizeof(data)));
  server_.reset();  // the server goes away with both unanswered
  Pump(10);
  ServeHandshake(listener.get());
  // Both come again, with their cookies, the write with its data.
  WireRequest r2 = ReadRequest(), w2 = ReadRequest();
  if (r2.cmd == kCmdWrite) std::swap(r2, w2);
  EXPECT_EQ(r2.cookie, r.cookie);
  EXPECT_EQ(w2.cookie, w.cookie);
  ASSERT_TRUE(ReadAll(data, sizeof(data)));
  EXPECT_TRUE(results_.empty());  // nothing failed meanwhile
  Reply(r2.cookie, 0, std::vector<uint8_t>(4096, 9));
  Reply(w2.cookie, 0);
  EXPECT_EQ(Await(1), 4096);
  EXPECT_EQ(Await(2), 512);
  EXPECT_EQ(bufs_[1][4095], 9);
  EXPECT_TRUE(GuardIntact(1));
  // New requests go out on the new connection.
  results_.clear();
  Submit(Req(3, abi::kOpFlush, 0, 0));
  WireRequest f = ReadRequest();
  EXPECT_EQ(f.cmd, kCmdFlush);
  Reply(f.cookie, 0);
  EXPECT_EQ(Await(3), 0);
  ::unlink(path.c_str());
}

TEST_F(NbdQueueTest, ViolationFailsTheRequestsSentAndReconnects) {
  const std::string path = "/tmp/nbd_queue_test_v." + std::to_string(getpid());
  Fd listener = ListenAndReconnectTo(path, 30);
  Submit(Req(1, abi::kOpRead, 0, 4096));
  Submit(Req(2, abi::kOpWrite, 4096, 512));
  WireRequest r = ReadRequest();
  (void)ReadRequest();
  uint8_t data[512];
  ASSERT_TRUE(ReadAll(data, sizeof(data)));
  Pump(10);  // both SENDMSGs complete: both were sent
  Pump(10);
  Reply(r.cookie, 0, {}, 0xdeadbeef);  // bad magic: not sent again
  EXPECT_EQ(Await(1), -EIO);
  EXPECT_EQ(Await(2), -EIO);
  EXPECT_TRUE(GuardIntact(1));
  ServeHandshake(listener.get());
  results_.clear();
  Submit(Req(3, abi::kOpRead, 0, 512));
  WireRequest r3 = ReadRequest();
  EXPECT_EQ(r3.cmd, kCmdRead);
  Reply(r3.cookie, 0, std::vector<uint8_t>(512, 5));
  EXPECT_EQ(Await(3), 512);
  EXPECT_EQ(bufs_[3][511], 5);
  ::unlink(path.c_str());
}

TEST_F(NbdQueueTest, PastTheReconnectTimeoutRequestsFailWithEio) {
  const std::string path = "/tmp/nbd_queue_test_t." + std::to_string(getpid());
  Fd listener = ListenAndReconnectTo(path, 1);
  listener.reset();  // nobody answers
  ::unlink(path.c_str());
  Submit(Req(1, abi::kOpRead, 0, 4096));
  (void)ReadRequest();
  server_.reset();
  EXPECT_EQ(Await(1), -EIO);
  ctx_->BeginIo(2);
  IoStatus st = queue_->Queue(*ctx_, Req(2, abi::kOpRead, 0, 512));
  ctx_->EndIo();
  EXPECT_FALSE(st.pending());
  EXPECT_EQ(st.result(), -EIO);
}

}  // namespace
}  // namespace ublk::nbd

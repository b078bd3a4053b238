// The nbd target's I/O path on a real io_uring over a socketpair, with the
// test as the NBD server (no ublk_drv, no root): commands on the wire,
// replies matched by cookie, READ data into the request's buffer, and a
// server that breaks the protocol or goes away failing what is in flight
// with EIO -- never writing past a request's buffer.
#include "nbd_queue_fixture.h"

namespace ublk::nbd {
namespace {

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
  EXPECT_EQ(ServeResentReadAndWrite(r.cookie, 4096, 9, data).cookie, w.cookie);
  // New requests go out on the new connection.
  results_.clear();
  Submit(Req(3, abi::kOpFlush, 0, 0));
  WireRequest f = ReadRequest();
  EXPECT_EQ(f.cmd, kCmdFlush);
  Reply(f.cookie, 0);
  EXPECT_EQ(Await(3), 0);
  ::unlink(path.c_str());
}

// The send fails before the receive sees the connection go (the server
// stopped reading): the queue must still take the new connection once the
// receive completes, and send the request again on it.
TEST_F(NbdQueueTest, SendFailingBeforeTheReceiveStillReconnectsAndResends) {
  const std::string path = "/tmp/nbd_queue_test_s." + std::to_string(getpid());
  Fd listener = ListenAndReconnectTo(path, 30);
  Submit(Req(1, abi::kOpRead, 0, 512));
  WireRequest r = ReadRequest();
  Pump(10);  // its SENDMSG completes; the receive stays armed
  ASSERT_EQ(::shutdown(server_.get(), SHUT_RD), 0);
  Submit(Req(2, abi::kOpWrite, 4096, 512));  // its SENDMSG fails: EPIPE
  Pump(10);
  Pump(10);
  Fd old = std::move(server_);
  ServeHandshake(listener.get());
  uint8_t data[512];
  (void)ServeResentReadAndWrite(r.cookie, 512, 7, data);
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

TEST_F(NbdQueueTest, StructuredChunksFillTheReadBufferInAnyOrder) {
  UseStructuredReplies();
  Submit(Req(3, abi::kOpRead, 8192, 4096));
  WireRequest w = ReadRequest();
  // A hole over the second half, data for the first, then NONE with DONE.
  Chunk(w.cookie, 0, kReplyTypeOffsetHole,
        Fields({{8192 + 2048, 8}, {2048, 4}}));
  Chunk(w.cookie, 0, kReplyTypeOffsetData, Fields({{8192, 8}}, 2048, 0x5a));
  Pump(10);
  EXPECT_FALSE(results_.count(3));  // no DONE yet
  Chunk(w.cookie, kReplyFlagDone, kReplyTypeNone, {});
  EXPECT_EQ(Await(3), 4096);
  EXPECT_EQ(bufs_[3][0], 0x5a);
  EXPECT_EQ(bufs_[3][2047], 0x5a);
  EXPECT_EQ(bufs_[3][2048], 0);
  EXPECT_EQ(bufs_[3][4095], 0);
  EXPECT_TRUE(GuardIntact(3));
}

TEST_F(NbdQueueTest, DataChunkWithDoneEndsTheRead) {
  UseStructuredReplies();
  Submit(Req(1, abi::kOpRead, 0, 4096));
  Submit(Req(2, abi::kOpRead, 4096, 4096));
  WireRequest a = ReadRequest(), b = ReadRequest();
  // Chunks of the two interleave.
  Chunk(b.cookie, 0, kReplyTypeOffsetData, Fields({{4096, 8}}, 1024, 2));
  Chunk(a.cookie, kReplyFlagDone, kReplyTypeOffsetData,
        Fields({{0, 8}}, 4096, 1));
  Chunk(b.cookie, kReplyFlagDone, kReplyTypeOffsetData,
        Fields({{5120, 8}}, 3072, 3));
  EXPECT_EQ(Await(1), 4096);
  EXPECT_EQ(Await(2), 4096);
  EXPECT_EQ(bufs_[1][4095], 1);
  EXPECT_EQ(bufs_[2][1023], 2);
  EXPECT_EQ(bufs_[2][1024], 3);
  EXPECT_TRUE(GuardIntact(1));
  EXPECT_TRUE(GuardIntact(2));
}

TEST_F(NbdQueueTest, ErrorChunksFailTheRequestAndKeepTheStreamInStep) {
  UseStructuredReplies();
  Submit(Req(1, abi::kOpRead, 0, 4096));
  Submit(Req(2, abi::kOpWrite, 0, 512));
  Submit(Req(3, abi::kOpFlush, 0, 0));
  WireRequest r = ReadRequest(), w = ReadRequest();
  uint8_t data[512];
  ASSERT_TRUE(ReadAll(data, sizeof(data)));
  WireRequest f = ReadRequest();
  // The READ: some data, an error at an offset with a message, DONE.
  Chunk(r.cookie, 0, kReplyTypeOffsetData, Fields({{0, 8}}, 512, 4));
  std::vector<uint8_t> e = Fields({{28, 4}, {4, 2}});
  e.insert(e.end(), {'f', 'u', 'l', 'l'});
  auto off = Fields({{1024, 8}});
  e.insert(e.end(), off.begin(), off.end());
  Chunk(r.cookie, 0, kReplyTypeErrorOffset, e);
  Chunk(r.cookie, kReplyFlagDone, kReplyTypeNone, {});
  // The WRITE: a plain error chunk with DONE; the FLUSH: an error type of
  // no known meaning.
  Chunk(w.cookie, kReplyFlagDone, kReplyTypeError, Fields({{1, 4}, {0, 2}}));
  Chunk(f.cookie, kReplyFlagDone, kReplyTypeErrorBit | 9,
        Fields({{1, 4}, {0, 2}}));
  EXPECT_EQ(Await(1), -ENOSPC);
  EXPECT_EQ(Await(2), -EPERM);
  EXPECT_EQ(Await(3), -EIO);
  // Still in step, still connected.
  results_.clear();
  Submit(Req(1, abi::kOpRead, 0, 512));
  r = ReadRequest();
  Chunk(r.cookie, kReplyFlagDone, kReplyTypeOffsetData,
        Fields({{0, 8}}, 512, 6));
  EXPECT_EQ(Await(1), 512);
  EXPECT_EQ(bufs_[1][511], 6);
}

TEST_F(NbdQueueTest, SimpleRepliesStillAnswerAllButReadWithStructuredReplies) {
  UseStructuredReplies();
  Submit(Req(2, abi::kOpWrite, 0, 512));
  WireRequest w = ReadRequest();
  uint8_t data[512];
  ASSERT_TRUE(ReadAll(data, sizeof(data)));
  Submit(Req(3, abi::kOpDiscard, 0, 4096));
  WireRequest d = ReadRequest();
  Reply(w.cookie, 0);
  Reply(d.cookie, 95);
  EXPECT_EQ(Await(2), 512);
  EXPECT_EQ(Await(3), -EOPNOTSUPP);
}

// Each way a server breaks structured replies, sent to a READ of 4096
// bytes at 8192 with a second READ in flight: both fail with EIO, no byte
// lands outside either buffer.
TEST_F(NbdQueueTest, EachChunkViolationFailsInFlightWithEio) {
  struct Case {
    const char* what;
    void (*send)(NbdQueueTest& t, uint64_t cookie);
  };
  const Case cases[] = {
      {"chunk for no request",
       [](NbdQueueTest& t, uint64_t c) {
         t.Chunk(c + (1ull << 16), kReplyFlagDone, kReplyTypeNone, {});
       }},
      {"data outside",
       [](NbdQueueTest& t, uint64_t c) {
         t.Chunk(c, kReplyFlagDone, kReplyTypeOffsetData,
                 Fields({{8192 + 2048, 8}}, 4096, 0x77));
       }},
      {"hole outside",
       [](NbdQueueTest& t, uint64_t c) {
         t.Chunk(c, kReplyFlagDone, kReplyTypeOffsetHole,
                 Fields({{4096, 8}, {8192, 4}}));
       }},
      {"oversize data chunk",
       [](NbdQueueTest& t, uint64_t c) {
         t.Chunk(c, kReplyFlagDone, kReplyTypeOffsetData,
                 Fields({{8192, 8}}, 8192, 0x77));
       }},
      {"oversize error chunk",
       [](NbdQueueTest& t, uint64_t c) {
         t.Chunk(c, kReplyFlagDone, kReplyTypeError, Fields({{5, 4}, {0, 2}}),
                 1 << 20);
       }},
      {"NONE without DONE",
       [](NbdQueueTest& t, uint64_t c) { t.Chunk(c, 0, kReplyTypeNone, {}); }},
      {"unknown type",
       [](NbdQueueTest& t, uint64_t c) {
         t.Chunk(c, kReplyFlagDone, 5, Fields({{0, 4}}));
       }},
      {"READ not covered",
       [](NbdQueueTest& t, uint64_t c) {
         t.Chunk(c, 0, kReplyTypeOffsetData, Fields({{8192, 8}}, 2048, 1));
         t.Chunk(c, kReplyFlagDone, kReplyTypeNone, {});
       }},
      {"READ covered twice",
       [](NbdQueueTest& t, uint64_t c) {
         t.Chunk(c, 0, kReplyTypeOffsetData, Fields({{8192, 8}}, 4096, 1));
         t.Chunk(c, kReplyFlagDone, kReplyTypeOffsetHole,
                 Fields({{8192, 8}, {512, 4}}));
       }},
      {"simple reply to a READ",
       [](NbdQueueTest& t, uint64_t c) {
         t.Reply(c, 0, std::vector<uint8_t>(4096, 1));
       }},
      {"simple reply after chunks without DONE",
       [](NbdQueueTest& t, uint64_t c) {
         t.Chunk(c, 0, kReplyTypeOffsetData, Fields({{8192, 8}}, 4096, 1));
         t.Reply(c, 0);
       }},
      {"chunk after DONE",
       [](NbdQueueTest& t, uint64_t c) {
         t.Chunk(c, kReplyFlagDone, kReplyTypeError, Fields({{5, 4}, {0, 2}}));
         t.Chunk(c, kReplyFlagDone, kReplyTypeNone, {});
       }},
      {"error 0",
       [](NbdQueueTest& t, uint64_t c) {
         t.Chunk(c, kReplyFlagDone, kReplyTypeError, Fields({{0, 4}, {0, 2}}));
       }},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    TearDown();
    results_.clear();
    SetUp();
    UseStructuredReplies();
    Submit(Req(1, abi::kOpRead, 8192, 4096));
    Submit(Req(2, abi::kOpRead, 0, 4096));
    WireRequest w = ReadRequest();
    (void)ReadRequest();
    Pump(10);
    c.send(*this, w.cookie);
    EXPECT_EQ(Await(1), -EIO);  // "chunk after DONE": its error chunk's
    EXPECT_EQ(Await(2), -EIO);
    EXPECT_TRUE(GuardIntact(1));
    EXPECT_TRUE(GuardIntact(2));
    ctx_->BeginIo(4);
    IoStatus st = queue_->Queue(*ctx_, Req(4, abi::kOpRead, 0, 512));
    ctx_->EndIo();
    EXPECT_FALSE(st.pending());  // the connection is gone
  }
}

TEST_F(NbdQueueTest, ReconnectNegotiatesStructuredRepliesAgain) {
  const std::string path = "/tmp/nbd_queue_test_s." + std::to_string(getpid());
  Fd listener = ListenAndReconnectTo(path, 30);
  Submit(Req(1, abi::kOpRead, 0, 4096));
  WireRequest r = ReadRequest();
  Pump(10);
  Reply(r.cookie, 0, {}, kStructuredReplyMagic);  // simple replies only here
  EXPECT_EQ(Await(1), -EIO);
  ServeHandshake(listener.get(), /*structured=*/true);
  results_.clear();
  Submit(Req(3, abi::kOpRead, 0, 512));
  WireRequest r3 = ReadRequest();
  EXPECT_TRUE(link_.structured.load());
  Chunk(r3.cookie, kReplyFlagDone, kReplyTypeOffsetData,
        Fields({{0, 8}}, 512, 5));
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

// The device being deleted while the server is gone: what waits for a new
// connection fails at once instead of after the (30 s) reconnect timeout,
// and so does what comes later; a connection that is up keeps serving.
TEST_F(NbdQueueTest, GivingUpWhenDeletedFailsWhatWaitsForAReconnect) {
  const std::string path = "/tmp/nbd_queue_test_g." + std::to_string(getpid());
  Fd listener = ListenAndReconnectTo(path, 30);
  listener.reset();  // nobody answers
  ::unlink(path.c_str());
  Submit(Req(1, abi::kOpRead, 0, 4096));
  WireRequest r = ReadRequest();
  link_.reconnector->GiveUp();  // while up: the request stays in flight
  Pump(10);
  Reply(r.cookie, 0, std::vector<uint8_t>(4096, 3));
  EXPECT_EQ(Await(1), 4096);
  Submit(Req(2, abi::kOpRead, 0, 4096));
  (void)ReadRequest();
  server_.reset();
  for (int i = 0; i < 100 && !results_.count(2); ++i) Pump(10);  // 1 s
  ASSERT_TRUE(results_.count(2));
  EXPECT_EQ(results_[2], -EIO);
  ctx_->BeginIo(3);
  IoStatus st = queue_->Queue(*ctx_, Req(3, abi::kOpRead, 0, 512));
  ctx_->EndIo();
  EXPECT_FALSE(st.pending());
  EXPECT_EQ(st.result(), -EIO);
}

}  // namespace
}  // namespace ublk::nbd

// The nbd target's I/O path in zero-copy mode: a request's data is reached
// only through its fixed buffer (WRITE_FIXED from it, READ_FIXED into it),
// receives never take more than a reply header, so no READ data passes
// through the queue's own memory, and the stream stays in step across
// short transfers, pipelined requests and a reconnect.
#include "nbd_queue_fixture.h"

namespace ublk::nbd {
namespace {

class NbdQueueZeroCopyTest : public NbdQueueTest {
 public:
  void SetUp() override {
    NbdQueueTest::SetUp();
    UseZeroCopy();
  }
};

TEST_F(NbdQueueZeroCopyTest, ReadDataGoesStraightIntoTheFixedBuffer) {
  Submit(Req(3, abi::kOpRead, 8192, 4096));
  WireRequest w = ReadRequest();
  EXPECT_EQ(w.cmd, kCmdRead);
  EXPECT_EQ(w.length, 4096u);
  Reply(w.cookie, 0, std::vector<uint8_t>(4096, 0x5a));
  EXPECT_EQ(Await(3), 4096);
  EXPECT_EQ(bufs_[3][0], 0x5a);
  EXPECT_EQ(bufs_[3][4095], 0x5a);
  EXPECT_TRUE(GuardIntact(3));
}

TEST_F(NbdQueueZeroCopyTest, WriteDataFollowsItsHeaderFromTheFixedBuffer) {
  for (size_t i = 0; i < kBuf; ++i) bufs_[1][i] = static_cast<uint8_t>(i * 7);
  Submit(Req(1, abi::kOpWrite, 4096, kBuf));
  Submit(Req(2, abi::kOpFlush, 0, 0));
  WireRequest w = ReadRequest();
  EXPECT_EQ(w.cmd, kCmdWrite);
  std::vector<uint8_t> data(kBuf);
  ASSERT_TRUE(ReadAll(data.data(), data.size()));
  for (size_t i = 0; i < kBuf; ++i)
    ASSERT_EQ(data[i], static_cast<uint8_t>(i * 7)) << "byte " << i;
  WireRequest f = ReadRequest();  // only after the WRITE's data
  EXPECT_EQ(f.cmd, kCmdFlush);
  Reply(f.cookie, 0);
  Reply(w.cookie, 0);
  EXPECT_EQ(Await(2), 0);
  EXPECT_EQ(Await(1), static_cast<int>(kBuf));
}

// Replies back to back in one burst (a READ's data between two headers):
// each header is received on its own, each READ's data into its buffer.
TEST_F(NbdQueueZeroCopyTest, PipelinedReadsAndWritesKeepTheStreamInStep) {
  std::vector<WireRequest> sent;
  for (uint16_t t = 0; t < kDepth; ++t) {
    if (t % 2) {
      std::memset(bufs_[t].data(), t, 512);
      Submit(Req(t, abi::kOpWrite, t * 4096u, 512));
    } else {
      Submit(Req(t, abi::kOpRead, t * 4096u, 1024 + t));
    }
  }
  for (uint16_t t = 0; t < kDepth; ++t) {
    WireRequest w = ReadRequest();
    if (w.cmd == kCmdWrite) {
      uint8_t data[512];
      ASSERT_TRUE(ReadAll(data, sizeof(data)));
      EXPECT_EQ(data[511], w.cookie & 0xffff);
    }
    sent.push_back(w);
  }
  std::vector<uint8_t> burst;
  for (auto it = sent.rbegin(); it != sent.rend(); ++it) {
    const uint16_t t = it->cookie & 0xffff;
    for (int i = 3; i >= 0; --i)
      burst.push_back(static_cast<uint8_t>(kSimpleReplyMagic >> (8 * i)));
    burst.insert(burst.end(), 4, 0);
    for (int i = 7; i >= 0; --i)
      burst.push_back(static_cast<uint8_t>(it->cookie >> (8 * i)));
    if (it->cmd == kCmdRead) burst.insert(burst.end(), it->length, 0x40 + t);
  }
  ASSERT_EQ(::send(server_.get(), burst.data(), burst.size(), 0),
            static_cast<ssize_t>(burst.size()));
  for (uint16_t t = 0; t < kDepth; ++t) {
    if (t % 2) {
      EXPECT_EQ(Await(t), 512);
    } else {
      EXPECT_EQ(Await(t), 1024 + t);
      EXPECT_EQ(bufs_[t][1023 + t], 0x40 + t);
      EXPECT_EQ(bufs_[t][1024 + t], 0xee);
    }
  }
}

// A socket buffer that is already full: the header and then the data go
// out as the server makes room, after what was there and in order.
TEST_F(NbdQueueZeroCopyTest, AWriteIntoAFullSocketWaitsForRoomAndStaysInOrder) {
  int small = 4096;
  const int sock = link_.conn.socket.get();
  ASSERT_EQ(::setsockopt(sock, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)),
            0);
  std::vector<uint8_t> junk(512, 0xaa);
  size_t filled = 0;
  for (ssize_t n;
       (n = ::send(sock, junk.data(), junk.size(), MSG_DONTWAIT)) > 0;)
    filled += static_cast<size_t>(n);
  ASSERT_GT(filled, 0u);
  for (size_t i = 0; i < kBuf; ++i) bufs_[4][i] = static_cast<uint8_t>(i);
  Submit(Req(4, abi::kOpWrite, 0, kBuf));
  Pump(10);
  // The server reads slowly: what was in the buffer, a little at a time.
  std::vector<uint8_t> drain(filled);
  for (size_t off = 0; off < filled; off += 256)
    ASSERT_TRUE(
        ReadAll(drain.data() + off, std::min<size_t>(256, filled - off)));
  WireRequest w = ReadRequest();
  EXPECT_EQ(w.cmd, kCmdWrite);
  std::vector<uint8_t> data(kBuf);
  for (size_t off = 0; off < kBuf; off += 512)
    ASSERT_TRUE(ReadAll(data.data() + off, 512));
  for (size_t i = 0; i < kBuf; ++i)
    ASSERT_EQ(data[i], static_cast<uint8_t>(i)) << "byte " << i;
  Reply(w.cookie, 0);
  EXPECT_EQ(Await(4), static_cast<int>(kBuf));
}

// The server goes away with a READ and a WRITE unanswered: both are sent
// again on the new connection (asked for simple replies only), the WRITE
// with its data from the fixed buffer.
TEST_F(NbdQueueZeroCopyTest, RequestsInFlightAreResentOnTheNewConnection) {
  const std::string path = "/tmp/nbd_queue_zc_test." + std::to_string(getpid());
  Fd listener = ListenAndReconnectTo(path, 30, /*structured=*/false);
  std::memset(bufs_[2].data(), 0x77, 512);
  Submit(Req(1, abi::kOpRead, 0, 4096));
  Submit(Req(2, abi::kOpWrite, 4096, 512));
  WireRequest r = ReadRequest();
  (void)ReadRequest();
  uint8_t data[512];
  ASSERT_TRUE(ReadAll(data, sizeof(data)));
  server_.reset();
  Pump(10);
  ServeHandshake(listener.get());
  (void)ServeResentReadAndWrite(r.cookie, 4096, 9, data);
  EXPECT_EQ(data[0], 0x77);
  EXPECT_FALSE(link_.structured.load());
  ::unlink(path.c_str());
}

// A server that sends more READ data than asked: the surplus is read as
// the next reply header, found bad, and fails the connection's requests --
// never written past the buffer.
TEST_F(NbdQueueZeroCopyTest, SurplusReadDataIsAViolationNotAnOverrun) {
  Submit(Req(5, abi::kOpRead, 0, 1024));
  WireRequest w = ReadRequest();
  Reply(w.cookie, 0, std::vector<uint8_t>(1024 + 64, 0x11));
  EXPECT_EQ(Await(5), 1024);
  Submit(Req(6, abi::kOpRead, 0, 512));
  (void)ReadRequest();
  EXPECT_EQ(Await(6), -EIO);
  EXPECT_TRUE(GuardIntact(5));
  EXPECT_TRUE(GuardIntact(6));
}

}  // namespace
}  // namespace ublk::nbd

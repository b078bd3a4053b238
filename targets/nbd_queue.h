// The nbd target's I/O path: one queue's requests over its own connection.
//
// Every request becomes one NBD command on the connection, sent and answered
// on the queue's ring; many are in flight at once, told apart by their
// cookie (the tag in the low 16 bits, the tag's request count above, so a
// late reply to an earlier request on the same tag is never mistaken for
// this one's). Sends go out one SENDMSG at a time, each carrying every
// request queued since the last one (headers and WRITE data as one iovec
// array), so two requests' bytes never interleave on the stream; a short
// send continues where it stopped. One RECV at a time reads whatever the
// server has sent, up to kRecvBufferBytes, into the connection's receive
// buffer, where every whole reply header in it is parsed and the READ data
// after one is copied into its request's buffer: many small replies cost
// one receive, not two each. The rest of a READ's data, when more than
// kDirectRecvBytes are still to come and the buffer is empty, is received
// straight into the request's buffer instead, without the copy.
// With structured replies negotiated (nbd_chunk.h), the same holds for
// chunks: a chunk is parsed once its header and the fixed part of its
// payload (an error chunk: all of it) are buffered; OFFSET_DATA goes to its
// place in the buffer as above, OFFSET_HOLE zeroes its range, an error
// chunk's errno is kept, and the request finishes at its DONE chunk (with
// the first error, if any). Simple replies are still taken for everything
// but READ.
// All of it through queue SQEs (QueueContext::GetQueueSqe) on the socket as
// a fixed file; nothing blocks, nothing allocates past OpenQueue.
//
// With zero copy (automatic buffer registration) a request's data is in
// its registered pages, never in our memory: a WRITE's header ends its
// SENDMSG and WRITE_FIXED sends the data from the pages (a short write
// continues); receives take exactly one reply header at a time and a
// READ's data comes by READ_FIXED straight into its pages. The connection
// then uses simple replies only (a hole chunk would need zeros written
// into the pages).
//
// A broken stream -- the server closes or resets the connection, a reply
// header with a bad magic, a structured reply when none was negotiated, a
// cookie of no request in flight, any of the chunk faults nbd_chunk.h lists
// -- ends the connection. With a Reconnector the
// requests in flight are kept and sent again on the new connection, and
// new ones wait for it; only past the reconnect timeout do they fail with
// EIO (and every later one, until the connection is back). After a
// protocol violation (the reply faults above) the requests the
// server had been sent fail with EIO at once instead of being sent again,
// and those not yet sent wait for the new connection. The queue
// adopts the new socket only once both SQEs on the old one have completed,
// so nothing the old connection receives lands in a buffer now in use.
// Without a Reconnector everything in flight and later fails with EIO; the
// device stays usable for `ublk del` either way. A reply's data goes only
// into the buffer of the request it answers, never beyond its length.
#pragma once

#include <sys/socket.h>
#include <sys/uio.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "nbd_connect.h"
#include "nbd_reconnect.h"
#include "ublk/target.h"

namespace ublk::nbd {

// Requests one SENDMSG carries at most (each a header and maybe data).
inline constexpr unsigned kMaxSendBatch = 32;
// The connection's receive buffer: 64 replies to 4 KiB READs fit in it.
inline constexpr size_t kRecvBufferBytes = 256u << 10;
// READ data still to come beyond this is received into its own buffer.
inline constexpr size_t kDirectRecvBytes = 64u << 10;

// The memory of one connection that the kernel may still write into when
// the queue thread exits (a receive in flight is cancelled only when the
// ring goes): owned by the target, which outlives every queue.
struct Link {
  Connection conn;
  std::vector<uint8_t> rx;  // kRecvBufferBytes, sized by the queue
  std::vector<std::array<uint8_t, kRequestBytes>> headers;  // per tag
  std::array<iovec, 2 * kMaxSendBatch> iov{};
  msghdr msg{};
  // nullptr: --reconnect-timeout 0, a broken connection stays broken.
  std::unique_ptr<Reconnector> reconnector;
  uint64_t reconnect_event = 0;  // read from reconnector->done_fd()
  // The connection as the queue last saw it (LinkState), for `ublk list`:
  // written by the queue thread, read by the main thread.
  std::atomic<uint8_t> state{0};
  // Whether that connection uses structured replies, likewise.
  std::atomic<bool> structured{false};
};

enum class LinkState : uint8_t {
  kConnected = 0,
  kReconnecting = 1,  // requests wait for the new connection
  kFailed = 2,        // requests fail with EIO (past the reconnect timeout,
                      // still trying; or for good without a Reconnector)
};

// `link` is borrowed and outlives the queue; `file` is its socket's slot in
// the ring's file table.
// `zero_copy`: the device's requests come with registered pages
// (Request::buf_index) instead of memory; the connection must not have
// negotiated structured replies.
std::unique_ptr<TargetQueue> MakeNbdQueue(Link& link, int file,
                                          uint16_t queue_id, uint16_t depth,
                                          bool zero_copy);

}  // namespace ublk::nbd

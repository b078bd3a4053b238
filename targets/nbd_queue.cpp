#include "nbd_queue.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "nbd_chunk.h"
#include "ublk/abi.h"
#include "ublk/log.h"

namespace ublk::nbd {
namespace {

// target_data of the queue SQEs.
enum QueueOp : uint16_t {
  kSendOp = 1,
  kRecvOp = 2,
  kReconnectOp = 3,
  kWriteDataOp = 4,  // zero copy: a WRITE's data from its registered pages
};

// The connection, as the queue sees it (published as LinkState).
enum class Conn : uint8_t {
  kUp = static_cast<uint8_t>(LinkState::kConnected),
  // broken; requests wait for the Reconnector's new connection
  kDown = static_cast<uint8_t>(LinkState::kReconnecting),
  // broken past the reconnect timeout, or for good without a Reconnector:
  // requests fail with EIO at once
  kFailed = static_cast<uint8_t>(LinkState::kFailed),
};

enum class SlotState : uint8_t {
  kIdle,        // no request on this tag
  kQueued,      // waiting for the next SENDMSG
  kSending,     // in the SENDMSG in flight
  kAwaitReply,  // sent; the reply has not come
  kEarlyReply,  // the reply came before its SENDMSG completed
};

struct Slot {
  SlotState state = SlotState::kIdle;
  uint16_t cmd = 0;
  uint32_t seq = 0;     // requests this tag has carried, in the cookie
  uint32_t length = 0;  // READ/WRITE bytes
  uint64_t offset = 0;
  // Byte n of the request's data is at addr + n: plain memory in copy mode,
  // fixed buffer buf_index (READ_FIXED/WRITE_FIXED only) with zero copy.
  uint64_t addr = 0;
  uint16_t buf_index = 0;
  int early_result = 0;
  // Structured replies: chunks came for the request (as sent last), the
  // bytes of data and holes among them, the first error one carried.
  bool chunked = false;
  uint32_t covered = 0;
  int chunk_error = 0;
};

struct Stats {
  uint64_t requests = 0, sends = 0, short_sends = 0, receives = 0, errors = 0;
  uint64_t losses = 0, violations = 0, resent = 0, reconnects = 0;
};

constexpr uint64_t Cookie(uint16_t tag, uint32_t seq) {
  return uint64_t{seq} << 16 | tag;
}

class NbdQueue final : public TargetQueue {
 public:
  NbdQueue(Link& link, int file, uint16_t queue_id, uint16_t depth,
           bool zero_copy)
      : link_(link),
        file_(file),
        id_(queue_id),
        zero_copy_(zero_copy),
        slots_(depth),
        structured_(link.conn.info.structured_replies) {
    link_.structured.store(structured_, std::memory_order_relaxed);
    fifo_.resize(depth);
    link_.headers.assign(depth, {});
    link_.rx.assign(kRecvBufferBytes, 0);
  }

  ~NbdQueue() override {
    log::Info(
        "nbd queue {}: {} requests in {} sends ({} short) and {} receives, "
        "{} errors, "
        "connection lost {} times ({} protocol violations), {} reconnects, "
        "{} requests resent{}",
        id_, stats_.requests, stats_.sends, stats_.short_sends, stats_.receives,
        stats_.errors, stats_.losses, stats_.violations, stats_.reconnects,
        stats_.resent, conn_ == Conn::kUp ? "" : ", connection down");
  }

  IoStatus Queue(QueueContext& q, const Request& req) noexcept override {
    if (conn_ == Conn::kFailed) return Fail(-EIO);
    uint16_t cmd, flags = 0;
    uint64_t offset = req.offset;
    uint32_t length = req.length;
    switch (req.op) {
      case abi::kOpRead:
        cmd = kCmdRead;
        break;
      case abi::kOpWrite:
        cmd = kCmdWrite;
        if (req.op_flags & abi::kIoFFua) flags |= kCmdFlagFua;
        break;
      case abi::kOpFlush:
        cmd = kCmdFlush;
        offset = length = 0;
        break;
      case abi::kOpDiscard:
        cmd = kCmdTrim;
        break;
      case abi::kOpWriteZeroes:
        cmd = kCmdWriteZeroes;
        if (req.op_flags & abi::kIoFNoUnmap) flags |= kCmdFlagNoHole;
        break;
      default:
        return Fail(-EOPNOTSUPP);
    }
    Slot& s = slots_[req.tag];
    if (s.state != SlotState::kIdle) return Fail(-EIO);  // cannot happen
    // Copy mode needs the data in memory; a zero-copy request has none.
    if (!zero_copy_ && req.buf_addr == 0 && req.length != 0 &&
        (cmd == kCmdRead || cmd == kCmdWrite))
      return Fail(-EIO);
    s.cmd = cmd;
    s.length = length;
    s.offset = offset;
    s.addr = req.buf_addr;
    s.buf_index = req.buf_index;
    ++s.seq;
    EncodeRequest(link_.headers[req.tag].data(), cmd, flags,
                  Cookie(req.tag, s.seq), offset, length);
    s.state = SlotState::kQueued;
    fifo_[(fifo_head_ + fifo_count_) % fifo_.size()] = req.tag;
    ++fifo_count_;
    ++stats_.requests;
    // Waiting for a new connection: it goes out with the others then.
    if (conn_ != Conn::kUp) return IoStatus::Pending();
    // Either may find the ring broken and fail the connection, this
    // request with it (through FinishRequest): it is then finished and
    // Pending is still the right answer.
    if (!recv_armed_) ArmRecv(q);
    if (!send_in_flight_ && conn_ == Conn::kUp) StartSend(q);
    return IoStatus::Pending();
  }

  IoStatus Complete(QueueContext&, const Request&,
                    const Completion&) noexcept override {
    return IoStatus::Done(-EIO);  // every SQE is a queue SQE
  }

  void CompleteQueueOp(QueueContext& q, const Completion& c) noexcept override {
    switch (c.target_data) {
      case kSendOp:
      case kWriteDataOp:
        if (conn_ != Conn::kUp) {  // on the old connection: ignored
          send_in_flight_ = false;
          return Adopt(q);
        }
        if (c.res <= 0)
          return SendFailed(
              q, c.res == 0 ? "send wrote nothing" : "send failed", c.res);
        if (c.target_data == kSendOp) return OnSent(q, c.res);
        return OnDataWritten(q, c.res);
      case kRecvOp:
        if (conn_ == Conn::kUp) return OnReceived(q, c.res);
        recv_armed_ = false;
        return Adopt(q);
      case kReconnectOp:
        return OnReconnectEvent(q, c.res);
      default:
        return;
    }
  }

 private:
  IoStatus Fail(int err) noexcept {
    ++stats_.errors;
    return IoStatus::Done(err);
  }

  // Gathers the queued requests into one SENDMSG. With zero copy a WRITE's
  // data is not in our memory: the batch ends with its header, and the
  // data follows from its registered pages (SubmitDataWrite).
  void StartSend(QueueContext& q) noexcept {
    if (fifo_count_ == 0) return;
    unsigned n = 0, iovs = 0;
    data_write_tag_ = -1;
    while (fifo_count_ != 0 && n < kMaxSendBatch && data_write_tag_ < 0) {
      const uint16_t tag = fifo_[fifo_head_];
      fifo_head_ = (fifo_head_ + 1) % fifo_.size();
      --fifo_count_;
      Slot& s = slots_[tag];
      link_.iov[iovs++] = {link_.headers[tag].data(), kRequestBytes};
      if (s.cmd == kCmdWrite && s.length != 0) {
        if (zero_copy_) {
          data_write_tag_ = tag;
          data_written_ = 0;
        } else {
          link_.iov[iovs++] = {reinterpret_cast<void*>(s.addr), s.length};
        }
      }
      s.state = SlotState::kSending;
      s.chunked = false;
      s.covered = 0;
      s.chunk_error = 0;
      batch_[n++] = {tag, s.seq};
    }
    batch_size_ = n;
    iov_pos_ = 0;
    iov_count_ = iovs;
    send_in_flight_ = true;
    SubmitSend(q);
  }

  void SubmitSend(QueueContext& q) noexcept {
    io_uring_sqe* sqe = q.GetQueueSqe(kSendOp);
    if (sqe == nullptr) return SendFailed(q, "no SQE for a send (broken ring)");
    link_.msg = {};
    link_.msg.msg_iov = &link_.iov[iov_pos_];
    link_.msg.msg_iovlen = iov_count_ - iov_pos_;
    io_uring_prep_sendmsg(sqe, file_, &link_.msg, MSG_NOSIGNAL);
    sqe->flags |= IOSQE_FIXED_FILE;
    ++stats_.sends;
  }

  // The rest of the zero-copy WRITE's data, from its fixed buffer. A
  // socket takes no file offset: 0.
  void SubmitDataWrite(QueueContext& q) noexcept {
    io_uring_sqe* sqe = q.GetQueueSqe(kWriteDataOp);
    if (sqe == nullptr) return SendFailed(q, "no SQE for a send (broken ring)");
    const Slot& s = slots_[data_write_tag_];
    io_uring_prep_write_fixed(sqe, file_,
                              reinterpret_cast<void*>(s.addr + data_written_),
                              s.length - data_written_, 0, s.buf_index);
    sqe->flags |= IOSQE_FIXED_FILE;
    ++stats_.sends;
  }

  // No send is in flight on the old socket from here on; Adopt waits for
  // that, so it is cleared before the connection is lost.
  void SendFailed(QueueContext& q, const char* why, int res = 0) noexcept {
    send_in_flight_ = false;
    Lost(q, why, res);
  }

  // `res` bytes of the WRITE_FIXED went out.
  void OnDataWritten(QueueContext& q, int res) noexcept {
    data_written_ += static_cast<uint32_t>(res);
    if (data_written_ < slots_[data_write_tag_].length) {
      ++stats_.short_sends;
      return SubmitDataWrite(q);
    }
    data_write_tag_ = -1;
    SendDone(q);
  }

  // `res` bytes of the SENDMSG went out.
  void OnSent(QueueContext& q, int res) noexcept {
    size_t left = static_cast<size_t>(res);
    while (left != 0 && iov_pos_ < iov_count_) {
      iovec& v = link_.iov[iov_pos_];
      if (left >= v.iov_len) {
        left -= v.iov_len;
        ++iov_pos_;
      } else {
        v.iov_base = static_cast<uint8_t*>(v.iov_base) + left;
        v.iov_len -= left;
        left = 0;
      }
    }
    if (iov_pos_ < iov_count_) {
      ++stats_.short_sends;
      return SubmitSend(q);
    }
    if (data_write_tag_ >= 0) return SubmitDataWrite(q);
    SendDone(q);
  }

  // Every byte of the batch is on the stream.
  void SendDone(QueueContext& q) noexcept {
    send_in_flight_ = false;
    for (unsigned i = 0; i < batch_size_; ++i) {
      Slot& s = slots_[batch_[i].tag];
      if (s.seq != batch_[i].seq) continue;
      if (s.state == SlotState::kSending) {
        s.state = SlotState::kAwaitReply;
      } else if (s.state == SlotState::kEarlyReply) {
        s.state = SlotState::kIdle;
        q.FinishRequest(batch_[i].tag, s.early_result);
      }
    }
    StartSend(q);
  }

  // Receives into the buffer after what it holds (moved to its start), or,
  // for the long rest of a READ's data with nothing buffered, straight into
  // the request's buffer.
  void ArmRecv(QueueContext& q) noexcept {
    io_uring_sqe* sqe = q.GetQueueSqe(kRecvOp);
    if (sqe == nullptr) return Lost(q, "no SQE for a receive (broken ring)");
    if (rx_begin_ == rx_end_) {
      rx_begin_ = rx_end_ = 0;
    } else if (rx_begin_ != 0) {
      std::memmove(link_.rx.data(), link_.rx.data() + rx_begin_,
                   rx_end_ - rx_begin_);
      rx_end_ -= rx_begin_;
      rx_begin_ = 0;
    }
    // With zero copy READ data is never received into the buffer, where it
    // could not be copied to the request's pages: all of it goes there by
    // READ_FIXED (a socket takes no file offset: 0), and the buffer takes
    // no more than the next reply header.
    direct_ = data_tag_ >= 0 &&
              (zero_copy_ || (rx_end_ == 0 && data_left_ > kDirectRecvBytes));
    if (direct_ && zero_copy_) {
      io_uring_prep_read_fixed(sqe, file_, reinterpret_cast<void*>(data_at_),
                               data_left_, 0, slots_[data_tag_].buf_index);
    } else if (direct_) {
      io_uring_prep_recv(sqe, file_, reinterpret_cast<void*>(data_at_),
                         data_left_, MSG_WAITALL);
    } else if (zero_copy_) {
      io_uring_prep_recv(sqe, file_, link_.rx.data() + rx_end_,
                         kSimpleReplyBytes - rx_end_, MSG_WAITALL);
    } else {
      io_uring_prep_recv(sqe, file_, link_.rx.data() + rx_end_,
                         link_.rx.size() - rx_end_, 0);
    }
    sqe->flags |= IOSQE_FIXED_FILE;
    recv_armed_ = true;
  }

  void OnReceived(QueueContext& q, int res) noexcept {
    recv_armed_ = false;
    if (res <= 0)
      return Lost(
          q, res == 0 ? "the server closed the connection" : "receive failed",
          res);
    ++stats_.receives;
    if (direct_) {
      data_at_ += static_cast<uint32_t>(res);
      data_left_ -= static_cast<uint32_t>(res);
      FinishData(q);
    } else {
      rx_end_ += static_cast<size_t>(res);
    }
    while (conn_ == Conn::kUp && Parse(q)) {
    }
    if (conn_ == Conn::kUp) ArmRecv(q);
  }

  // Consumes what the buffer holds of one reply (a simple reply header or
  // a whole chunk header with the start of its payload) or of READ data;
  // false when it needs more bytes (or the connection broke).
  bool Parse(QueueContext& q) noexcept {
    const size_t have = rx_end_ - rx_begin_;
    const uint8_t* in = link_.rx.data() + rx_begin_;
    if (data_tag_ >= 0) {
      if (have == 0 || zero_copy_) return false;  // zero copy: READ_FIXED
      const size_t n = std::min<size_t>(have, data_left_);
      std::memcpy(reinterpret_cast<void*>(data_at_), in, n);
      rx_begin_ += n;
      data_at_ += n;
      data_left_ -= static_cast<uint32_t>(n);
      FinishData(q);
      return true;
    }
    if (have < kSimpleReplyBytes) return false;
    const SimpleReply r = ParseSimpleReply(in);
    if (r.status == SimpleReply::Status::kStructured) {
      if (!structured_) {
        Violation(q, "a structured reply, never negotiated");
        return false;
      }
      return ParseChunk(q, in, have);
    }
    rx_begin_ += kSimpleReplyBytes;
    if (r.status != SimpleReply::Status::kOk) {
      Violation(q, "bad reply magic");
      return false;
    }
    const int t = InFlight(r.cookie);
    if (t < 0) {
      Violation(q, "a reply to no request in flight");
      return false;
    }
    const uint16_t tag = static_cast<uint16_t>(t);
    Slot& s = slots_[tag];
    if (structured_ && (s.cmd == kCmdRead || s.chunked)) {
      Violation(q, s.chunked ? "a simple reply after chunks"
                             : "a simple reply to a READ");
      return false;
    }
    if (r.error != 0) {
      ++stats_.errors;
      Answer(q, tag, ReplyErrno(r.error));
    } else if (s.cmd == kCmdRead && s.length != 0) {
      StartData(tag, s.addr, s.length, false, false);  // the data follows
    } else {
      Answer(q, tag, Success(s));
    }
    return true;
  }

  // One chunk, once its header and what must be parsed of its payload are
  // in the buffer.
  bool ParseChunk(QueueContext& q, const uint8_t* in, size_t have) noexcept {
    if (have < kChunkHeaderBytes) return false;
    const ChunkHeader h = ParseChunkHeader(in);
    const int t = InFlight(h.cookie);
    if (t < 0) {
      Violation(q, "a chunk for no request in flight");
      return false;
    }
    const uint16_t tag = static_cast<uint16_t>(t);
    Slot& s = slots_[tag];
    const ChunkPlan p =
        PlanChunk(h, {in + kChunkHeaderBytes, have - kChunkHeaderBytes},
                  {s.cmd, s.offset, s.length});
    if (p.kind == ChunkPlan::Kind::kNeedMore) return false;
    if (p.kind == ChunkPlan::Kind::kViolation) {
      Violation(q, p.why);
      return false;
    }
    rx_begin_ += kChunkHeaderBytes + p.head;
    s.chunked = true;
    const bool done = h.flags & kReplyFlagDone;
    switch (p.kind) {
      case ChunkPlan::Kind::kData:
      case ChunkPlan::Kind::kHole:
        if (p.count > s.length - s.covered) {
          Violation(q, "data and holes beyond the READ's length");
          return false;
        }
        s.covered += p.count;
        if (p.kind == ChunkPlan::Kind::kData) {
          StartData(tag, s.addr + p.at, p.count, true, done);
          return true;
        }
        // Never with zero copy, which asks for simple replies only.
        std::memset(reinterpret_cast<void*>(s.addr + p.at), 0, p.count);
        break;
      case ChunkPlan::Kind::kError:
        if (s.chunk_error == 0) s.chunk_error = p.error;
        break;
      default:
        break;
    }
    if (done) EndChunks(q, tag);
    return true;
  }

  // The tag of the request in flight `cookie` names, or -1.
  int InFlight(uint64_t cookie) const noexcept {
    const uint16_t tag = static_cast<uint16_t>(cookie & 0xffff);
    if (tag >= slots_.size() || (cookie >> 48) != 0 ||
        slots_[tag].seq != static_cast<uint32_t>(cookie >> 16) ||
        (slots_[tag].state != SlotState::kSending &&
         slots_[tag].state != SlotState::kAwaitReply))
      return -1;
    return tag;
  }

  static int Success(const Slot& s) noexcept {
    return s.cmd == kCmdRead || s.cmd == kCmdWrite ? static_cast<int>(s.length)
                                                   : 0;
  }

  // `count` bytes of READ data for `to` follow in the stream.
  void StartData(uint16_t tag, uint64_t at, uint32_t count, bool chunk,
                 bool last) noexcept {
    data_tag_ = tag;
    data_at_ = at;
    data_left_ = count;
    data_chunk_ = chunk;
    data_last_ = last;
  }

  // Once all of the data being received is in: the simple reply is
  // complete, and so is a chunk (the request's reply too with DONE).
  void FinishData(QueueContext& q) noexcept {
    if (data_left_ != 0) return;
    const uint16_t tag = static_cast<uint16_t>(data_tag_);
    data_tag_ = -1;
    if (!data_chunk_) return Answer(q, tag, Success(slots_[tag]));
    if (data_last_) EndChunks(q, tag);
  }

  // The DONE chunk for `tag` came: it fails with the first error a chunk
  // carried, else succeeds -- a READ only if its whole range came.
  void EndChunks(QueueContext& q, uint16_t tag) noexcept {
    const Slot& s = slots_[tag];
    if (s.chunk_error != 0) {
      ++stats_.errors;
      return Answer(q, tag, s.chunk_error);
    }
    if (s.cmd == kCmdRead && s.covered != s.length)
      return Violation(q, "a READ reply that did not cover its range");
    Answer(q, tag, Success(s));
  }

  // The reply for `tag` is complete: finish it, or, when its SENDMSG has
  // not completed yet (its buffers may still be in use), once it has.
  void Answer(QueueContext& q, uint16_t tag, int result) noexcept {
    Slot& s = slots_[tag];
    if (s.state == SlotState::kSending) {
      s.state = SlotState::kEarlyReply;
      s.early_result = result;
      return;
    }
    s.state = SlotState::kIdle;
    q.FinishRequest(tag, result);
  }

  // The server broke the protocol in a reply header (found while no
  // receive is in flight): the requests it had been sent fail with EIO --
  // sending them again to a server that garbles its answers could loop
  // for ever, and a WRITE's fate is unknown -- and the connection is
  // replaced as when it drops.
  void Violation(QueueContext& q, const char* what) noexcept {
    ++stats_.violations;
    Lost(q, what, 0, true);
  }

  // The stream is unusable. With a Reconnector, what is in flight waits to
  // be sent again (a reply already complete finishes now; after a protocol
  // violation, what the server had been sent fails with EIO) and a new
  // connection is asked for; without one, everything fails. What is still
  // in flight on the ring completes into memory the target owns (Link),
  // and a new socket is adopted only once it has (Adopt).
  void Lost(QueueContext& q, const char* why, int res = 0,
            bool violation = false) noexcept {
    if (conn_ != Conn::kUp) return;
    ++stats_.losses;
    const bool retry = link_.reconnector != nullptr;
    SetConn(retry ? Conn::kDown : Conn::kFailed);
    const char* next = !retry      ? "failing its I/O"
                       : violation ? "failing the requests sent, reconnecting"
                                   : "reconnecting";
    const char* kind = violation ? "protocol violation: " : "";
    if (res < 0)
      log::Error("nbd queue {}: {}{}: {}; {}", id_, kind, why,
                 std::strerror(-res), next);
    else
      log::Error("nbd queue {}: {}{}; {}", id_, kind, why, next);
    (void)::shutdown(link_.conn.socket.get(), SHUT_RDWR);
    data_tag_ = -1;
    data_left_ = 0;
    rx_begin_ = rx_end_ = 0;
    if (!retry) return FailAll(q);
    for (uint16_t tag = 0; tag < slots_.size(); ++tag) {
      Slot& s = slots_[tag];
      if (s.state == SlotState::kEarlyReply) {
        s.state = SlotState::kIdle;
        q.FinishRequest(tag, s.early_result);
      } else if (violation && s.state == SlotState::kAwaitReply) {
        s.state = SlotState::kIdle;
        ++stats_.errors;
        q.FinishRequest(tag, -EIO);
      } else if (s.state == SlotState::kSending ||
                 s.state == SlotState::kAwaitReply) {
        s.state = SlotState::kQueued;
        fifo_[(fifo_head_ + fifo_count_) % fifo_.size()] = tag;
        ++fifo_count_;
        ++stats_.resent;
      }
    }
    link_.reconnector->Request();
    if (!reconnect_armed_) ArmReconnectEvent(q);
  }

  void SetConn(Conn c) noexcept {
    conn_ = c;
    link_.state.store(static_cast<uint8_t>(c), std::memory_order_relaxed);
  }

  // Every request on this queue fails with EIO.
  void FailAll(QueueContext& q) noexcept {
    fifo_count_ = 0;
    for (uint16_t tag = 0; tag < slots_.size(); ++tag) {
      if (slots_[tag].state == SlotState::kIdle) continue;
      slots_[tag].state = SlotState::kIdle;
      ++stats_.errors;
      q.FinishRequest(tag, -EIO);
    }
  }

  void ArmReconnectEvent(QueueContext& q) noexcept {
    io_uring_sqe* sqe = q.GetQueueSqe(kReconnectOp);
    if (sqe == nullptr) {
      // A broken ring: nothing will tell us about a new connection.
      SetConn(Conn::kFailed);
      return FailAll(q);
    }
    io_uring_prep_read(sqe, link_.reconnector->done_fd(),
                       &link_.reconnect_event, sizeof(link_.reconnect_event),
                       0);
    reconnect_armed_ = true;
  }

  void OnReconnectEvent(QueueContext& q, int res) noexcept {
    reconnect_armed_ = false;
    if (res < 0 && res != -EINTR && res != -EAGAIN) {
      SetConn(Conn::kFailed);
      return FailAll(q);
    }
    switch (link_.reconnector->Take(&next_socket_, &next_structured_)) {
      case Reconnector::Outcome::kTimedOut:
        // Keep looking; fail what waits and whatever comes meanwhile. (A
        // connection back by now -- the device being deleted gives up
        // with a report of its own -- keeps serving what it was sent.)
        if (conn_ == Conn::kUp) break;
        SetConn(Conn::kFailed);
        FailAll(q);
        break;
      case Reconnector::Outcome::kConnected:
        Adopt(q);
        break;
      case Reconnector::Outcome::kNone:
        break;
    }
    if (!next_socket_.valid() && conn_ != Conn::kUp) ArmReconnectEvent(q);
  }

  // Takes the new socket once nothing is in flight on the old one.
  void Adopt(QueueContext& q) noexcept {
    if (!next_socket_.valid() || send_in_flight_ || recv_armed_) return;
    if (!q.ReplaceFile(file_, next_socket_.get())) {
      log::Error("nbd queue {}: cannot register the new connection", id_);
      next_socket_.reset();
      SetConn(Conn::kFailed);
      return FailAll(q);
    }
    link_.conn.socket = std::move(next_socket_);
    structured_ = next_structured_;
    link_.structured.store(structured_, std::memory_order_relaxed);
    SetConn(Conn::kUp);
    ++stats_.reconnects;
    ArmRecv(q);
    if (conn_ == Conn::kUp && !send_in_flight_) StartSend(q);
  }

  struct Sent {
    uint16_t tag;
    uint32_t seq;
  };

  Link& link_;
  const int file_;
  const uint16_t id_;
  const bool zero_copy_;  // requests' data only through their fixed buffers
  std::vector<Slot> slots_;
  std::vector<uint16_t> fifo_;  // tags waiting to be sent, oldest first
  size_t fifo_head_ = 0, fifo_count_ = 0;
  std::array<Sent, kMaxSendBatch> batch_{};  // in the SENDMSG in flight
  unsigned batch_size_ = 0, iov_pos_ = 0, iov_count_ = 0;
  bool send_in_flight_ = false;
  // Zero copy: the batch's last request is a WRITE whose data goes after
  // the SENDMSG, data_written_ bytes of it so far; -1 when none.
  int data_write_tag_ = -1;
  uint32_t data_written_ = 0;
  bool recv_armed_ = false;
  // Receiving READ data (of a simple reply, or of a chunk, maybe the last)
  // for this tag: data_left_ bytes still to come, for data_at_ (an address
  // as Slot::addr).
  int data_tag_ = -1;
  uint64_t data_at_ = 0;
  uint32_t data_left_ = 0;
  bool data_chunk_ = false, data_last_ = false;
  size_t rx_begin_ = 0, rx_end_ = 0;  // the unparsed bytes in link_.rx
  bool direct_ = false;  // the RECV in flight is into data_tag_'s buffer
  Conn conn_ = Conn::kUp;
  bool reconnect_armed_ = false;
  bool structured_;  // the connection uses structured replies
  Fd next_socket_;   // a new connection waiting for the old SQEs
  bool next_structured_ = false;
  Stats stats_;
};

}  // namespace

std::unique_ptr<TargetQueue> MakeNbdQueue(Link& link, int file,
                                          uint16_t queue_id, uint16_t depth,
                                          bool zero_copy) {
  return std::make_unique<NbdQueue>(link, file, queue_id, depth, zero_copy);
}

}  // namespace ublk::nbd

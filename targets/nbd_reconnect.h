// Reconnecting one nbd queue's connection, off the queue thread.
//
// Connecting and the handshake block (connect, then a dialogue of reads and
// writes), so they never run on a queue thread: each connection has a
// Reconnector whose own thread sleeps until the queue asks (Request), then
// tries to reach the server again once a second. The queue learns the
// outcome through an eventfd it reads on its ring (done_fd): a new
// connection to the same export (same size and transmission flags), or,
// once `timeout` has passed without one, that it timed out -- the thread
// keeps trying after that, and reports the connection when it comes --
// until GiveUp, when the device is being deleted.
//
// Owned by the target; Request and Take are for the queue thread (noexcept,
// no allocation), the rest for the main thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <thread>

#include "nbd_connect.h"
#include "nbd_uri.h"
#include "ublk/fd.h"
#include "ublk/result.h"

namespace ublk::nbd {

class Reconnector {
 public:
  enum class Outcome : uint8_t { kNone, kConnected, kTimedOut };

  // Starts the thread (idle until Request). Errors: eventfds or the thread
  // could not be made.
  // `structured`: whether new connections ask for structured replies.
  static Result<std::unique_ptr<Reconnector>> Start(
      Address address, ExportInfo expected, std::chrono::seconds timeout,
      uint16_t queue_id, bool structured = true);
  ~Reconnector();  // stops and joins the thread (at most one connect try)
  Reconnector(const Reconnector&) = delete;
  Reconnector& operator=(const Reconnector&) = delete;

  // Queue thread: the connection broke; find a new one.
  void Request() noexcept;
  // Main thread, when the device is being deleted: stop looking for a
  // connection and report kTimedOut now (and after every later Request),
  // so the queue fails what waits instead of holding it for the timeout.
  void GiveUp() noexcept;
  // Readable (8 bytes) when Take has an outcome.
  int done_fd() const { return done_.get(); }
  // Queue thread, after done_fd was read: what happened since the last call;
  // with kConnected the new socket is moved to `socket`, and `structured`
  // says whether it negotiated structured replies.
  Outcome Take(Fd* socket, bool* structured) noexcept;

  std::chrono::seconds timeout() const { return timeout_; }

 private:
  Reconnector(Address address, ExportInfo expected,
              std::chrono::seconds timeout, uint16_t queue_id,
              bool structured);
  void Run(std::stop_token stop) noexcept;
  // Sleeps up to `ms` or until stopped; false when stopped.
  bool Nap(int ms) noexcept;
  void Report(Outcome o) noexcept;

  const Address address_;
  const ExportInfo expected_;
  const std::chrono::seconds timeout_;
  const uint16_t queue_id_;
  const bool ask_structured_;
  Fd wake_;  // eventfd: Request and the destructor
  Fd done_;  // eventfd: an outcome is ready
  std::atomic<int> socket_{-1};
  std::atomic<bool> structured_{false};  // socket_'s, stored before it
  std::atomic<Outcome> outcome_{Outcome::kNone};
  std::atomic<bool> requested_{false};
  std::atomic<bool> given_up_{false};
  std::jthread thread_;  // last: joined before the fds close
};

}  // namespace ublk::nbd

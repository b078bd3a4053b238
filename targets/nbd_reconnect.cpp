#include "nbd_reconnect.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "ublk/log.h"

namespace ublk::nbd {
namespace {

using namespace std::chrono_literals;

// One try's bound: short, so a stopping device does not wait long for it.
constexpr std::chrono::milliseconds kTryTimeout = 3s;
constexpr int kRetryMs = 1000;

void Bump(int fd) noexcept {
  uint64_t one = 1;
  (void)!::write(fd, &one, sizeof(one));
}

}  // namespace

Reconnector::Reconnector(Address address, ExportInfo expected,
                         std::chrono::seconds timeout, uint16_t queue_id,
                         bool structured)
    : address_(std::move(address)),
      expected_(expected),
      timeout_(timeout),
      queue_id_(queue_id),
      ask_structured_(structured) {}

Result<std::unique_ptr<Reconnector>> Reconnector::Start(
    Address address, ExportInfo expected, std::chrono::seconds timeout,
    uint16_t queue_id, bool structured) {
  std::unique_ptr<Reconnector> r(new Reconnector(
      std::move(address), expected, timeout, queue_id, structured));
  r->wake_ = Fd(::eventfd(0, EFD_CLOEXEC));
  r->done_ = Fd(::eventfd(0, EFD_CLOEXEC));
  if (!r->wake_.valid() || !r->done_.valid())
    return SysError(errno, "creating the nbd reconnect eventfds");
  Reconnector* self = r.get();
  r->thread_ = std::jthread([self](std::stop_token st) { self->Run(st); });
  return r;
}

Reconnector::~Reconnector() {
  if (thread_.joinable()) {
    thread_.request_stop();
    Bump(wake_.get());
    thread_.join();
  }
  if (int fd = socket_.exchange(-1); fd >= 0) ::close(fd);
}

void Reconnector::Request() noexcept {
  if (given_up_.load(std::memory_order_acquire))
    return Report(Outcome::kTimedOut);
  requested_.store(true, std::memory_order_release);
  Bump(wake_.get());
}

void Reconnector::GiveUp() noexcept {
  given_up_.store(true, std::memory_order_release);
  Report(Outcome::kTimedOut);
  Bump(wake_.get());
}

Reconnector::Outcome Reconnector::Take(Fd* socket, bool* structured) noexcept {
  const Outcome o =
      outcome_.exchange(Outcome::kNone, std::memory_order_acq_rel);
  if (o == Outcome::kConnected) {
    *structured = structured_.load(std::memory_order_relaxed);
    socket->reset(socket_.exchange(-1));
  }
  return o;
}

bool Reconnector::Nap(int ms) noexcept {
  pollfd p{wake_.get(), POLLIN, 0};
  (void)::poll(&p, 1, ms);
  if (p.revents & POLLIN) {
    uint64_t v;
    (void)!::read(wake_.get(), &v, sizeof(v));
  }
  return !thread_.get_stop_token().stop_requested();
}

void Reconnector::Report(Outcome o) noexcept {
  outcome_.store(o, std::memory_order_release);
  Bump(done_.get());
}

void Reconnector::Run(std::stop_token stop) noexcept {
  while (!stop.stop_requested()) {
    if (!requested_.exchange(false, std::memory_order_acq_rel)) {
      if (!Nap(-1)) return;
      continue;
    }
    const auto deadline = std::chrono::steady_clock::now() + timeout_;
    bool timed_out = false;
    for (unsigned tries = 1; !stop.stop_requested(); ++tries) {
      if (given_up_.load(std::memory_order_acquire)) break;
      try {
        auto conn = Connect(address_, kTryTimeout, ask_structured_);
        if (given_up_.load(std::memory_order_acquire)) break;
        if (conn && (conn->info.size != expected_.size ||
                     conn->info.flags != expected_.flags)) {
          log::Warn(
              "nbd queue {}: {} now serves a different export; not "
              "reconnecting to it",
              queue_id_, Describe(address_));
        } else if (conn) {
          log::Info(
              "nbd queue {}: reconnected to {} after {} tries ({} replies)",
              queue_id_, Describe(address_), tries,
              conn->info.structured_replies ? "structured" : "simple");
          structured_.store(conn->info.structured_replies,
                            std::memory_order_relaxed);
          socket_.store(conn->socket.release(), std::memory_order_release);
          Report(Outcome::kConnected);
          break;
        } else if (tries == 1) {
          log::Warn("nbd queue {}: reconnecting: {}", queue_id_,
                    conn.error().message());
        }
      } catch (const std::exception& e) {
        log::Error("nbd queue {}: reconnecting: {}", queue_id_, e.what());
      }
      if (!timed_out && std::chrono::steady_clock::now() >= deadline) {
        timed_out = true;
        log::Error(
            "nbd queue {}: no connection to {} within {} s; failing "
            "I/O until it is back",
            queue_id_, Describe(address_), timeout_.count());
        Report(Outcome::kTimedOut);
      }
      if (!Nap(kRetryMs)) return;
    }
  }
}

}  // namespace ublk::nbd

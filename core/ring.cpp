#include "ublk/ring.h"

namespace ublk {

std::string SetupFlagNames(unsigned flags) {
  static constexpr struct {
    unsigned flag;
    const char* name;
  } kNames[] = {{IORING_SETUP_IOPOLL, "IOPOLL"},
                {IORING_SETUP_SQE128, "SQE128"},
                {IORING_SETUP_CQE32, "CQE32"},
                {IORING_SETUP_COOP_TASKRUN, "COOP_TASKRUN"},
                {IORING_SETUP_SINGLE_ISSUER, "SINGLE_ISSUER"},
                {IORING_SETUP_DEFER_TASKRUN, "DEFER_TASKRUN"},
                {IORING_SETUP_TASKRUN_FLAG, "TASKRUN_FLAG"}};
  std::string names;
  for (const auto& n : kNames)
    if (flags & n.flag) names += (names.empty() ? "" : " ") + std::string(n.name);
  return names.empty() ? "none" : names;
}

void Ring::Exit::operator()(io_uring* ring) const {
  io_uring_queue_exit(ring);
  delete ring;
}

Result<Ring> Ring::Create(const RingOptions& options) {
  unsigned base = 0;
  if (options.big_sqe) base |= IORING_SETUP_SQE128;
  if (options.big_cqe) base |= IORING_SETUP_CQE32;
  if (options.iopoll) base |= IORING_SETUP_IOPOLL;
  // Newest first; an older kernel rejects unknown flags with EINVAL.
  const unsigned tries[] = {
      IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SINGLE_ISSUER |
          IORING_SETUP_DEFER_TASKRUN,
      IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SINGLE_ISSUER,
      IORING_SETUP_COOP_TASKRUN, 0};
  int err = 0;
  for (unsigned extra : tries) {
    if (!options.owned_by_thread && extra != 0) continue;
    // The flag needs COOP_TASKRUN or DEFER_TASKRUN beside it.
    if (options.taskrun_flag && extra != 0) extra |= IORING_SETUP_TASKRUN_FLAG;
    auto ring = std::unique_ptr<io_uring, Exit>(new io_uring{});
    io_uring_params params{};
    params.flags = base | extra;
    err = io_uring_queue_init_params(options.entries, ring.get(), &params);
    if (err == 0) return Ring(std::move(ring));
    // queue_init failed: nothing to exit; free the struct only.
    delete ring.release();
    if (err != -EINVAL) break;
  }
  return SysError(-err, "creating io_uring");
}

}  // namespace ublk

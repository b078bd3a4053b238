#include "ublk/queue_context.h"

namespace ublk {

Result<int> QueueContext::AddFile(int fd) {
  if (next_file_ >= static_cast<int>(kFileSlots))
    return Invalid("too many files for one queue");
  int slot = next_file_;
  int ret = io_uring_register_files_update(ring_, slot, &fd, 1);
  if (ret < 0) return SysError(-ret, "registering a backend file");
  if (poll_ring_ != nullptr) {
    ret = io_uring_register_files_update(poll_ring_, slot, &fd, 1);
    if (ret < 0)
      return SysError(-ret, "registering a backend file on the polled ring");
  }
  ++next_file_;
  return slot;
}

bool QueueContext::ReplaceFile(int index, int fd) noexcept {
  if (index <= 0 || index >= next_file_) return false;
  if (io_uring_register_files_update(ring_, index, &fd, 1) != 1) return false;
  return poll_ring_ == nullptr ||
         io_uring_register_files_update(poll_ring_, index, &fd, 1) == 1;
}

}  // namespace ublk

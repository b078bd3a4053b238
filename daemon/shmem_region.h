// ShmemRegion: the memory --htlb names, for shared-memory zero copy.
//
// The server maps the file MAP_SHARED, so an application that maps the same
// file and does O_DIRECT I/O on /dev/ublkbN from it shares its pages with
// the server. Once the mapping is registered with the kernel (REG_BUF), a
// request whose pages all lie in it arrives flagged SHMEM_ZC with a buffer
// index and an offset: the queue serves it from base() + offset, and the
// kernel copies nothing. Other requests go through the per-tag buffers as in
// copy mode.
//
// Open() runs on the main thread before the queues start; the queues read
// base() and size() (fixed from then on) and index(), which the main thread
// publishes once REG_BUF has answered, before any request can be flagged.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "ublk/fd.h"
#include "ublk/mmap.h"
#include "ublk/result.h"

namespace ublk {

class ShmemRegion {
 public:
  // Opens and maps `path`: a file on hugetlbfs or tmpfs (whose pages the
  // kernel may pin for good), non-empty, at most 1 GiB, a whole number of
  // pages. One line naming the file otherwise.
  static Result<std::unique_ptr<ShmemRegion>> Open(const std::string& path);

  char* base() const { return static_cast<char*>(map_.data()); }
  size_t size() const { return map_.size(); }
  const std::string& path() const { return path_; }

  // The kernel's index for the region, -1 before registration.
  int32_t index() const { return index_.load(std::memory_order_acquire); }
  void set_index(uint16_t index) {
    index_.store(index, std::memory_order_release);
  }

  // Where a SHMEM_ZC request's `length` bytes at `offset` of buffer
  // `index` are, or nullptr when they do not lie in this region. Hot path:
  // no allocation, no locks.
  char* Resolve(uint16_t index, uint32_t offset, uint32_t length) const {
    if (static_cast<int32_t>(index) != this->index()) return nullptr;
    if (offset > size() || length > size() - offset) return nullptr;
    return base() + offset;
  }

 private:
  ShmemRegion(std::string path, Fd fd, Mmap map)
      : path_(std::move(path)), fd_(std::move(fd)), map_(std::move(map)) {}
  std::string path_;
  Fd fd_;
  Mmap map_;
  std::atomic<int32_t> index_{-1};
};

}  // namespace ublk

// Mmap: sole owner of one memory mapping.
//
// Move-only; the destructor unmaps; an empty Mmap maps nothing. The mapping's
// users must not outlive it.
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <utility>

#include "ublk/result.h"

namespace ublk {

class Mmap {
 public:
  Mmap() = default;
  Mmap(const Mmap&) = delete;
  Mmap& operator=(const Mmap&) = delete;
  Mmap(Mmap&& o) noexcept
      : addr_(std::exchange(o.addr_, nullptr)), len_(std::exchange(o.len_, 0)) {}
  Mmap& operator=(Mmap&& o) noexcept {
    if (this != &o) {
      reset();
      addr_ = std::exchange(o.addr_, nullptr);
      len_ = std::exchange(o.len_, 0);
    }
    return *this;
  }
  ~Mmap() { reset(); }

  // mmap(2) of fd (or anonymous memory when fd is -1 and MAP_ANONYMOUS set).
  static Result<Mmap> Map(size_t len, int prot, int flags, int fd, off_t offset,
                          const char* what) {
    void* p = ::mmap(nullptr, len, prot, flags, fd, offset);
    if (p == MAP_FAILED) return SysError(errno, std::string("mapping ") + what);
    return Mmap(p, len);
  }

  bool valid() const { return addr_ != nullptr; }
  void* data() const { return addr_; }
  size_t size() const { return len_; }
  void reset() {
    if (addr_) ::munmap(addr_, len_);
    addr_ = nullptr;
    len_ = 0;
  }

 private:
  Mmap(void* addr, size_t len) : addr_(addr), len_(len) {}
  void* addr_ = nullptr;
  size_t len_ = 0;
};

}  // namespace ublk

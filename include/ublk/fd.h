// Fd: sole owner of one file descriptor.
//
// Move-only; the destructor closes it; a moved-from or default Fd is empty
// (valid() is false). Any thread may use an Fd it owns.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <string>
#include <utility>

#include "ublk/result.h"

namespace ublk {

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  Fd(Fd&& other) noexcept : fd_(other.release()) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) reset(other.release());
    return *this;
  }
  ~Fd() { reset(); }

  // open(2) with O_CLOEXEC added. Error text: "opening PATH: strerror".
  static Result<Fd> Open(const std::string& path, int flags, mode_t mode = 0) {
    int fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
    if (fd < 0) return SysError(errno, "opening " + path);
    return Fd(fd);
  }

  // pipe2(2) with O_CLOEXEC: {read end, write end}.
  static Result<std::pair<Fd, Fd>> Pipe() {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) return SysError(errno, "creating a pipe");
    return std::pair<Fd, Fd>(Fd(p[0]), Fd(p[1]));
  }

  bool valid() const { return fd_ >= 0; }
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }
  void reset(int fd = -1) {
    if (valid()) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

}  // namespace ublk

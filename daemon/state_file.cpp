#include "state_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "json_fields.h"
#include "metrics_file.h"
#include "ublk/fd.h"

namespace ublk {
namespace {

// Far more than any real state file; a bigger one is not ours.
constexpr off_t kMaxStateBytes = 64 << 10;

std::string OctalMode(mode_t mode) {
  char text[8];
  std::snprintf(text, sizeof(text), "%04o", static_cast<unsigned>(mode & 07777));
  return text;
}

Result<void> CheckDirStat(const std::string& dir, const struct stat& st) {
  const std::string unsafe = "state directory " + dir + " is unsafe: ";
  if (S_ISLNK(st.st_mode)) return Invalid(unsafe + "it is a symlink");
  if (!S_ISDIR(st.st_mode)) return Invalid(unsafe + "it is not a directory");
  if (st.st_uid != ::geteuid())
    return Invalid(unsafe + "owned by uid " + std::to_string(st.st_uid) +
                   ", not " + std::to_string(::geteuid()));
  if (st.st_mode & (S_IWGRP | S_IWOTH))
    return Invalid(unsafe + "writable by group or others (mode " +
                   OctalMode(st.st_mode) + ")");
  return {};
}

Result<void> SyncDir(const std::string& dir) {
  auto fd = Fd::Open(dir, O_RDONLY | O_DIRECTORY);
  if (!fd) return fd.error();
  if (::fsync(fd->get()) != 0) return SysError(errno, "syncing " + dir);
  return {};
}

}  // namespace

std::string StateDir() {
  const char* env = std::getenv("UBLK_STATE_DIR");
  return env && *env ? env : kDefaultStateDir;
}

std::string ResizeAnswerPath(const std::string& dir, uint32_t dev_id) {
  return dir + "/" + std::to_string(dev_id) + ".resize";
}

std::string StatePath(const std::string& dir, uint32_t dev_id) {
  return dir + "/" + std::to_string(dev_id) + ".json";
}

Result<void> CheckStateDir(const std::string& dir) {
  struct stat st {};
  if (::lstat(dir.c_str(), &st) != 0)
    return SysError(errno, "state directory " + dir);
  return CheckDirStat(dir, st);
}

Result<void> PrepareStateDir(const std::string& dir) {
  // mkdir never grants more than 0755 whatever the umask; the check below
  // covers a directory someone else made first.
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST)
    return SysError(errno, "creating state directory " + dir);
  return CheckStateDir(dir);
}

Result<void> WriteState(const std::string& dir, const DeviceState& state) {
  UBLK_RETURN_IF_ERROR(PrepareStateDir(dir));
  const std::string path = StatePath(dir, state.dev_id);
  const std::string tmp = path + ".tmp";
  const std::string text = DumpJson(StateToJson(state), 2) + "\n";
  {
    ::unlink(tmp.c_str());  // a leftover from a crash mid-write
    auto fd = Fd::Open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0644);
    if (!fd) return fd.error();
    size_t done = 0;
    while (done < text.size()) {
      ssize_t n = ::write(fd->get(), text.data() + done, text.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        int err = errno;
        ::unlink(tmp.c_str());
        return SysError(err, "writing " + tmp);
      }
      done += static_cast<size_t>(n);
    }
    if (::fsync(fd->get()) != 0) {
      int err = errno;
      ::unlink(tmp.c_str());
      return SysError(err, "syncing " + tmp);
    }
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return SysError(err, "renaming " + tmp);
  }
  // The rename itself survives a crash only once the directory is synced.
  return SyncDir(dir);
}

Result<void> ReplaceFile(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  Fd f(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
              0644));
  if (!f.valid()) return SysError(errno, "creating " + tmp);
  if (::write(f.get(), text.data(), text.size()) !=
      static_cast<ssize_t>(text.size())) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return SysError(err != 0 ? err : EIO, "writing " + tmp);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return SysError(err, "renaming " + tmp);
  }
  return {};
}

Result<DeviceState> ReadState(const std::string& dir, uint32_t dev_id) {
  const std::string path = StatePath(dir, dev_id);
  const std::string what = "state file " + path;
  auto fd = Fd::Open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  if (!fd) {
    if (fd.error().code().value() == ENOENT) return fd.error();
    if (fd.error().code().value() == ELOOP)
      return Invalid(what + " is a symlink; not trusted");
    return fd.error().Wrap(what);
  }
  if (auto d = CheckStateDir(dir); !d) return d.error().Wrap(what + " not trusted");
  struct stat st {};
  if (::fstat(fd->get(), &st) != 0) return SysError(errno, "reading " + path);
  if (!S_ISREG(st.st_mode))
    return Invalid(what + " is not a regular file; not trusted");
  if (st.st_uid != ::geteuid())
    return Invalid(what + " is owned by uid " + std::to_string(st.st_uid) +
                   "; not trusted");
  if (st.st_mode & (S_IWGRP | S_IWOTH))
    return Invalid(what + " is writable by group or others; not trusted");
  if (st.st_size > kMaxStateBytes)
    return Invalid(what + " is too big (" + std::to_string(st.st_size) +
                   " bytes); not trusted");
  std::string text(static_cast<size_t>(st.st_size) + 1, '\0');
  size_t got = 0;
  while (got < text.size()) {
    ssize_t n = ::read(fd->get(), text.data() + got, text.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return SysError(errno, "reading " + path);
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  if (got > static_cast<size_t>(st.st_size))
    return Invalid(what + " changed while being read; not trusted");
  text.resize(got);
  auto j = ParseJson(text, what + " not trusted");
  if (!j) return j.error();
  auto state = StateFromJson(*j);
  if (!state) return state.error().Wrap(what + " not trusted");
  if (state->dev_id != dev_id)
    return Invalid(what + " describes device " +
                   std::to_string(state->dev_id) + "; not trusted");
  return state;
}

void RemoveState(const std::string& dir, uint32_t dev_id) {
  ::unlink(StatePath(dir, dev_id).c_str());
  ::unlink(MetricsPath(dir, dev_id).c_str());
}

}  // namespace ublk

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

Result<void> CheckDirStat(const std::string& dir, const struct stat& st,
                          uid_t owner) {
  const std::string unsafe = "state directory " + dir + " is unsafe: ";
  if (S_ISLNK(st.st_mode)) return Invalid(unsafe + "it is a symlink");
  if (!S_ISDIR(st.st_mode)) return Invalid(unsafe + "it is not a directory");
  if (st.st_uid != owner)
    return Invalid(unsafe + "owned by uid " + std::to_string(st.st_uid) +
                   ", not " + std::to_string(owner));
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

std::string StateBaseDir() {
  const char* env = std::getenv("UBLK_STATE_DIR");
  return env && *env ? env : kDefaultStateDir;
}

std::string StateDirOf(uid_t uid) {
  return uid == 0 ? StateBaseDir()
                  : StateBaseDir() + "/" + std::to_string(uid);
}

std::string StateDir() { return StateDirOf(::geteuid()); }

uid_t DeviceOwner(uint32_t dev_id) {
  struct stat st {};
  const std::string node = "/dev/ublkc" + std::to_string(dev_id);
  return ::stat(node.c_str(), &st) == 0 ? st.st_uid : ::geteuid();
}

std::string DeviceStateDir(uint32_t dev_id) {
  return StateDirOf(DeviceOwner(dev_id));
}

Result<DeviceState> ReadDeviceState(uint32_t dev_id) {
  const uid_t owner = DeviceOwner(dev_id);
  return ReadState(StateDirOf(owner), dev_id, owner);
}

std::string ResizeAnswerPath(const std::string& dir, uint32_t dev_id) {
  return dir + "/" + std::to_string(dev_id) + ".resize";
}

std::string StatePath(const std::string& dir, uint32_t dev_id) {
  return dir + "/" + std::to_string(dev_id) + ".json";
}

Result<void> CheckStateDir(const std::string& dir, uid_t owner) {
  struct stat st {};
  if (::lstat(dir.c_str(), &st) != 0)
    return SysError(errno, "state directory " + dir);
  return CheckDirStat(dir, st, owner);
}

Result<void> PrepareUserStateDir(uid_t uid, gid_t gid) {
  if (uid == 0) return PrepareStateDir(StateBaseDir());
  const std::string base = StateBaseDir();
  UBLK_RETURN_IF_ERROR(PrepareStateDir(base));
  auto base_fd = Fd::Open(base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
  if (!base_fd) return base_fd.error();
  const std::string name = std::to_string(uid);
  const std::string dir = StateDirOf(uid);
  // Made 0700 by root, then given away: at no moment can anyone else
  // write in it.
  if (::mkdirat(base_fd->get(), name.c_str(), 0700) == 0) {
    if (::fchownat(base_fd->get(), name.c_str(), uid, gid,
                   AT_SYMLINK_NOFOLLOW) != 0) {
      const int err = errno;
      ::unlinkat(base_fd->get(), name.c_str(), AT_REMOVEDIR);
      return SysError(err, "giving state directory " + dir + " to uid " +
                               std::to_string(uid));
    }
  } else if (errno != EEXIST) {
    return SysError(errno, "creating state directory " + dir);
  }
  struct stat st {};
  if (::fstatat(base_fd->get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
    return SysError(errno, "state directory " + dir);
  return CheckDirStat(dir, st, uid);
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

Result<DeviceState> ReadState(const std::string& dir, uint32_t dev_id,
                              uid_t owner) {
  const std::string path = StatePath(dir, dev_id);
  const std::string what = "state file " + path;
  auto fd = Fd::Open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  if (!fd) {
    if (fd.error().code().value() == ENOENT) return fd.error();
    if (fd.error().code().value() == ELOOP)
      return Invalid(what + " is a symlink; not trusted");
    return fd.error().Wrap(what);
  }
  if (auto d = CheckStateDir(dir, owner); !d)
    return d.error().Wrap(what + " not trusted");
  struct stat st {};
  if (::fstat(fd->get(), &st) != 0) return SysError(errno, "reading " + path);
  if (!S_ISREG(st.st_mode))
    return Invalid(what + " is not a regular file; not trusted");
  if (st.st_uid != owner)
    return Invalid(what + " is owned by uid " + std::to_string(st.st_uid) +
                   ", not " + std::to_string(owner) + "; not trusted");
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

#include "backing_file.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "registry.h"
#include "ublk/fd.h"

namespace ublk {
namespace {

std::string DevNumber(uint64_t rdev) {
  return std::to_string(major(rdev)) + ":" + std::to_string(minor(rdev));
}

std::string Describe(const BackingIdentity& b) {
  switch (b.kind) {
    case BackingIdentity::Kind::kBlock:
      return "block device " + DevNumber(b.rdev) + " of " +
             std::to_string(b.size) + " bytes";
    case BackingIdentity::Kind::kChar:
      return "char device " + DevNumber(b.rdev);
    case BackingIdentity::Kind::kFile:
      break;
  }
  return "file dev " + std::to_string(b.dev) + " inode " +
         std::to_string(b.ino) + " of " + std::to_string(b.size) + " bytes";
}

}  // namespace

Result<BackingIdentity> IdentifyBackingFile(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    return SysError(errno, "backing file " + path);
  BackingIdentity b;
  if (S_ISBLK(st.st_mode)) {
    b.kind = BackingIdentity::Kind::kBlock;
    b.rdev = st.st_rdev;
    auto fd = Fd::Open(path, O_RDONLY | O_CLOEXEC);
    if (!fd) return fd.error().Wrap("backing file " + path);
    uint64_t bytes = 0;
    if (::ioctl(fd->get(), BLKGETSIZE64, &bytes) != 0)
      return SysError(errno, "backing file " + path + ": size");
    b.size = bytes;
  } else if (S_ISCHR(st.st_mode)) {
    b.kind = BackingIdentity::Kind::kChar;
    b.rdev = st.st_rdev;
  } else {
    b.kind = BackingIdentity::Kind::kFile;
    b.dev = st.st_dev;
    b.ino = st.st_ino;
    b.size = static_cast<uint64_t>(st.st_size);
  }
  return b;
}

Result<void> CheckBackingFile(const std::string& path,
                              const BackingIdentity& expected) {
  auto now = IdentifyBackingFile(path);
  if (!now) return now.error().Wrap("the device's backing store is gone");
  if (*now == expected) return {};
  return Invalid("backing file " + path +
                 " is not the one the device was created on (now " +
                 Describe(*now) + ", recorded " + Describe(expected) + ")");
}

Result<void> CheckBackingFile(const DeviceState& state) {
  if (state.spec.file.empty()) return {};
  // A server's address (nbd) names no file to compare.
  const TargetType* type = FindTargetType(state.spec.type);
  if (type != nullptr && type->file_is_address) return {};
  if (!state.backing)
    return Invalid("state of device " + std::to_string(state.dev_id) +
                   " names backing file " + state.spec.file +
                   " but records no identity for it; not trusted");
  return CheckBackingFile(state.spec.file, *state.backing);
}

}  // namespace ublk

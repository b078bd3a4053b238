// BackingIdentity: which file a backing path named when a device was added.
//
// Recorded in the device's state file, so a later reader can tell that the
// path still names the same file (backing_file.h) and whether another device
// already serves a store (backing_in_use.h). Block and char devices are
// identified by their device number (rdev), other files by the filesystem's
// (dev) and their inode number (ino). Plain value; any thread.
#pragma once

#include <cstdint>

namespace ublk {

struct BackingIdentity {
  enum class Kind : uint8_t { kFile, kBlock, kChar };
  Kind kind = Kind::kFile;
  uint64_t dev = 0;   // st_dev (kFile)
  uint64_t ino = 0;   // st_ino (kFile)
  uint64_t rdev = 0;  // st_rdev (kBlock, kChar)
  uint64_t size = 0;  // bytes: st_size, a block device's size; 0 for kChar

  friend bool operator==(const BackingIdentity&,
                         const BackingIdentity&) = default;
};

// Whether both name the same store, whatever its size now: the same device
// number, or the same inode of the same filesystem.
constexpr bool SameStore(const BackingIdentity& a, const BackingIdentity& b) {
  if (a.kind != b.kind) return false;
  if (a.kind == BackingIdentity::Kind::kFile)
    return a.dev == b.dev && a.ino == b.ino;
  return a.rdev == b.rdev;
}

}  // namespace ublk

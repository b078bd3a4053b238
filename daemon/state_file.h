// State files: <state dir>/<id>.json, one per device with a running server.
//
// Each user has a state directory: root /run/ublk, any other user
// /run/ublk/<uid> (an unprivileged device's, UBLK_F_UNPRIVILEGED_DEV). The
// user cannot create that one under root's /run/ublk: ublk-udev-owner (run
// by udev as root when the device's char node appears) makes it, owned by
// the user, mode 0700, before it gives the node to the user. A device's
// state is in its owner's directory, the owner being whoever owns
// /dev/ublkcN; files there are trusted only when owned by that user. So
// root reads every device's state, a user only their own.
//
// Written by the server once its device is live, atomically (a temporary
// file in the same directory, fsynced, renamed over the old one, then the
// directory fsynced), removed when the server stops; kept when a device made
// with user recovery outlives its server. `list`, `del` and
// `recover` read them. The directory is created owned by the caller (root)
// with mode 0755; an existing one that is a symlink, owned by someone else or
// group/world-writable is refused, since whoever can write there could point
// `del` at another process or `recover` at another backing file. Reads check
// the directory, the file (a regular file of ours, not a symlink, of sane
// size) and every field, and report a bad file as an Error naming it.
#pragma once

#include <sys/types.h>
#include <unistd.h>

#include <cstdint>
#include <string>

#include "spec_json.h"
#include "ublk/result.h"

namespace ublk {

inline constexpr const char* kDefaultStateDir = "/run/ublk";

// $UBLK_STATE_DIR when set (tests), else /run/ublk: root's state directory
// and the parent of every other user's.
std::string StateBaseDir();
// The state directory of `uid`: the base for root, base/<uid> for others.
std::string StateDirOf(uid_t uid);
// The caller's: StateDirOf(geteuid()).
std::string StateDir();
// Who owns device dev_id: the owner of /dev/ublkcN (root until udev has given
// an unprivileged device's node to its user; only root can chown a node);
// the caller when there is no node.
uid_t DeviceOwner(uint32_t dev_id);
// DeviceOwner's state directory.
std::string DeviceStateDir(uint32_t dev_id);
std::string StatePath(const std::string& dir, uint32_t dev_id);
// Where a server answers `ublk resize` (SIGUSR1 with the new size): one
// line, "ok" or the reason it refused, written whole (rename).
std::string ResizeAnswerPath(const std::string& dir, uint32_t dev_id);

// Creates dir (mode 0755) when missing; refuses, with one line naming dir and
// the reason, one that is a symlink or not a directory, not owned by the
// effective user, or writable by group or others. The server calls it before
// creating its device.
Result<void> PrepareStateDir(const std::string& dir);
// The same checks without creating anything, for a directory that must be
// owned by `owner`; ENOENT when dir is missing.
Result<void> CheckStateDir(const std::string& dir, uid_t owner = ::geteuid());
// Root only: creates StateDirOf(uid) for an unprivileged device's user, as
// that user's, mode 0700, under a base directory it creates (0755) when
// missing; leaves an existing one that passes CheckStateDir(dir, uid). Names
// are resolved under an fd of the base, never through a symlink.
Result<void> PrepareUserStateDir(uid_t uid, gid_t gid);

Result<void> WriteState(const std::string& dir, const DeviceState& state);
// Replaces path with text, whole: written to path.tmp (mode 0644) and
// renamed over it, so a reader sees the old text or the new, never part.
Result<void> ReplaceFile(const std::string& path, const std::string& text);
// ENOENT when there is none (check error().code()); any other error means
// the file (or its directory) exists but is not trusted: the directory and
// the file must be owned by `owner`.
Result<DeviceState> ReadState(const std::string& dir, uint32_t dev_id,
                              uid_t owner = ::geteuid());
// ReadState of device dev_id in its owner's directory (DeviceStateDir).
Result<DeviceState> ReadDeviceState(uint32_t dev_id);
// Removes the metrics file (metrics_file.h) with it.
void RemoveState(const std::string& dir, uint32_t dev_id);

}  // namespace ublk

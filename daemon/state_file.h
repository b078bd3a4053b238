// State files: /run/ublk/<id>.json, one per device with a running server.
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

#include <cstdint>
#include <string>

#include "spec_json.h"
#include "ublk/result.h"

namespace ublk {

inline constexpr const char* kDefaultStateDir = "/run/ublk";

// $UBLK_STATE_DIR when set (tests), else /run/ublk.
std::string StateDir();
std::string StatePath(const std::string& dir, uint32_t dev_id);
// Where a server answers `ublk resize` (SIGUSR1 with the new size): one
// line, "ok" or the reason it refused, written whole (rename).
std::string ResizeAnswerPath(const std::string& dir, uint32_t dev_id);

// Creates dir (mode 0755) when missing; refuses, with one line naming dir and
// the reason, one that is a symlink or not a directory, not owned by the
// effective user, or writable by group or others. The server calls it before
// creating its device.
Result<void> PrepareStateDir(const std::string& dir);
// The same checks without creating anything; ENOENT when dir is missing.
Result<void> CheckStateDir(const std::string& dir);

Result<void> WriteState(const std::string& dir, const DeviceState& state);
// Replaces path with text, whole: written to path.tmp (mode 0644) and
// renamed over it, so a reader sees the old text or the new, never part.
Result<void> ReplaceFile(const std::string& path, const std::string& text);
// ENOENT when there is none (check error().code()); any other error means
// the file (or its directory) exists but is not trusted.
Result<DeviceState> ReadState(const std::string& dir, uint32_t dev_id);
// Removes the metrics file (metrics_file.h) with it.
void RemoveState(const std::string& dir, uint32_t dev_id);

}  // namespace ublk

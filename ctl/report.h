// ServerReport: what a server says on its ready pipe once its device is live
// (or why it could not make it live), parsed without trusting it.
//
// The server writes one JSON line: {"ok":true, "dev_id":..., ...} or
// {"ok":false, "error":"..."}. `add` and `recover` print it as text or JSON.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "ublk/result.h"

namespace ublk {

struct ServerReport {
  uint32_t dev_id = 0;
  std::string block;  // /dev/ublkbN
  std::string type;
  uint64_t size = 0;
  uint16_t queues = 0;
  uint16_t depth = 0;
  uint64_t max_io_bytes = 0;
  std::string data_path;
  std::string recovery = "off";
  std::vector<std::string> features;
  bool recovered = false;
  int pid = 0;
  // What the target noted while opening the backend (a read-only device,
  // buffered I/O and why), which the server logged where this user may not
  // look.
  std::vector<std::string> notes;
  nlohmann::json json;  // the report as the server sent it, less "ok"
};

// One report line: the server's error when it failed, an error naming the
// problem when the line is empty (the server died), not JSON, or lacks a
// field. Never throws.
Result<ServerReport> ParseServerReport(const std::string& line);

// Prints the report as `add` does: a few lines of text, or the JSON; the
// notes go to stderr either way.
void PrintReport(const ServerReport& report, bool json);

}  // namespace ublk

// ublk-server: runs one device. Started by `ublk add`, not by hand:
//   ublk-server --spec JSON [--ready-fd N] [--foreground] [--recover]
// Without --foreground it logs to syslog; either way a guardian parent
// cleans up if the server itself is killed.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <spdlog/sinks/syslog_sink.h>
#include <syslog.h>

#include <limits.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "guardian.h"
#include "server.h"
#include "json_fields.h"
#include "spec_json.h"
#include "state_file.h"

namespace {

int Usage() {
  std::fprintf(stderr,
               "usage: ublk-server --spec JSON [--ready-fd N] [--foreground] "
               "[--recover]\n"
               "This is the per-device server started by `ublk add`.\n");
  return 2;
}

// Under systemd (which sets INVOCATION_ID for a unit's processes) the
// guardian starts the next server itself when one is killed: a restart of
// the unit would first stop the mounts that require it, and their unmount
// waits for the device, which waits for a server - a deadlock. At most
// kMaxRespawns in kRespawnWindow, counted in UBLK_RESPAWNS ("N:SECONDS",
// passed on to the next server); past that the unit fails as before.
constexpr int kMaxRespawns = 5;
constexpr long kRespawnWindowS = 600;

bool RespawnAllowed() {
  if (std::getenv("INVOCATION_ID") == nullptr) return false;
  struct timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  int count = 0;
  long since = ts.tv_sec;
  if (const char* v = std::getenv("UBLK_RESPAWNS"))
    std::sscanf(v, "%d:%ld", &count, &since);
  if (ts.tv_sec - since > kRespawnWindowS) count = 0, since = ts.tv_sec;
  if (count >= kMaxRespawns) {
    spdlog::warn("{} servers killed within {} s: the next one is left to "
                 "the service manager", count, kRespawnWindowS);
    return false;
  }
  const std::string next =
      std::to_string(count + 1) + ":" + std::to_string(since);
  ::setenv("UBLK_RESPAWNS", next.c_str(), 1);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  std::string spec_text;
  int ready_fd = -1;
  bool foreground = false;
  bool recover = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--spec" && i + 1 < argc) {
      spec_text = argv[++i];
    } else if (arg == "--ready-fd" && i + 1 < argc) {
      ready_fd = std::atoi(argv[++i]);
    } else if (arg == "--foreground") {
      foreground = true;
    } else if (arg == "--recover") {
      recover = true;
    } else {
      return Usage();
    }
  }
  if (spec_text.empty()) return Usage();

  auto logger = foreground
                    ? spdlog::stderr_color_mt("ublk")
                    : spdlog::syslog_logger_mt("ublk", "ublk-server", LOG_PID,
                                               LOG_DAEMON);
  logger->set_pattern(foreground ? "%Y-%m-%d %H:%M:%S.%e ublk[%P] %l: %v"
                                 : "%l: %v");
  spdlog::set_default_logger(logger);
  if (const char* level = std::getenv("UBLK_LOG_LEVEL"))
    spdlog::set_level(spdlog::level::from_str(level));

  auto json = ublk::ParseJson(spec_text, "--spec");
  if (!json) {
    spdlog::error("{}", json.error().message());
    return 2;
  }
  auto spec = ublk::SpecFromJson(*json);
  if (!spec) {
    spdlog::error("--spec: {}", spec.error().message());
    return 2;
  }
  // This program's path now: after a package upgrade it names the new
  // program, which a handover starts.
  char self[PATH_MAX];
  ssize_t len = ::readlink("/proc/self/exe", self, sizeof(self) - 1);
  std::string program = len > 0 ? std::string(self, static_cast<size_t>(len))
                                : std::string(argv[0]);
  auto hand_over = [&](uint32_t dev_id) {
    // The state file has the spec as it is now (resized, say).
    auto state = ublk::ReadState(ublk::StateDir(), dev_id);
    ublk::DeviceSpec next = state ? state->spec : *spec;
    next.id = dev_id;
    const std::string text = ublk::DumpJson(ublk::SpecToJson(next));
    std::vector<const char*> args = {program.c_str(), "--spec", text.c_str(),
                                     "--recover"};
    if (foreground) args.push_back("--foreground");
    args.push_back(nullptr);
    spdlog::info("dev {}: starting the new server {}", dev_id, program);
    spdlog::default_logger()->flush();
    ::execv(program.c_str(), const_cast<char* const*>(args.data()));
    spdlog::error("dev {}: exec {}: {}", dev_id, program, std::strerror(errno));
  };
  return ublk::RunGuarded(
      [&](int devid_fd) {
        return ublk::RunServer(*spec, {.ready_fd = ready_fd,
                                       .devid_fd = devid_fd,
                                       .recover = recover});
      },
      ready_fd, /*keep_recoverable=*/spec->recovery != ublk::Recovery::kOff,
      /*may_respawn=*/[&] { return foreground && RespawnAllowed(); },
      hand_over);
}

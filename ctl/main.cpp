// ublk: the command line. Parses, dispatches, and maps results to exit codes
// (0 success, 1 failure, 2 bad usage).
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <variant>

#include "commands.h"
#include "ublk/version.h"

int main(int argc, char** argv) {
  spdlog::set_default_logger(spdlog::stderr_color_mt("ublk"));
  spdlog::set_pattern("ublk: %v");
  spdlog::set_level(spdlog::level::warn);

  std::vector<std::string> args(argv + 1, argv + argc);
  auto parsed = ublk::ParseCommandLine(args);
  if (!parsed) {
    std::fprintf(stderr, "ublk: %s\n", parsed.error().message().c_str());
    return 2;
  }
  return std::visit(
      [](const auto& cmd) -> int {
        using T = std::decay_t<decltype(cmd)>;
        if constexpr (std::is_same_v<T, ublk::AddCommand>) {
          return ublk::RunAdd(cmd);
        } else if constexpr (std::is_same_v<T, ublk::DelCommand>) {
          return ublk::RunDel(cmd);
        } else if constexpr (std::is_same_v<T, ublk::RecoverCommand>) {
          return ublk::RunRecover(cmd);
        } else if constexpr (std::is_same_v<T, ublk::RestartCommand>) {
          return ublk::RunRestart(cmd);
        } else if constexpr (std::is_same_v<T, ublk::ResizeCommand>) {
          return ublk::RunResize(cmd);
        } else if constexpr (std::is_same_v<T, ublk::StatsCommand>) {
          return ublk::RunStats(cmd);
        } else if constexpr (std::is_same_v<T, ublk::ListCommand>) {
          return ublk::RunList(cmd);
        } else if constexpr (std::is_same_v<T, ublk::FeaturesCommand>) {
          return ublk::RunFeatures(cmd);
        } else if constexpr (std::is_same_v<T, ublk::HelpCommand>) {
          std::fputs(ublk::HelpText(cmd.topic, cmd.target).c_str(), stdout);
          return 0;
        } else {
          std::printf("ublk %s\n", ublk::kVersion);
          return 0;
        }
      },
      *parsed);
}

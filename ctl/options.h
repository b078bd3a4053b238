// The `ublk` command line, parsed and validated without touching the kernel.
//
// Compatible with the reference server's `ublk`: add -t TYPE -n ID -q QUEUES
// -d DEPTH -f FILE -r, del -n ID | -a, list [-n ID], recover -n ID, features; long options and
// --json on top. Every error is one line naming the option and the problem.
// add's backend options come from the target types' tables (registry.h):
// an option the chosen type does not take is refused, wherever it stands
// on the line.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "ublk/result.h"
#include "ublk/spec.h"

namespace ublk {

struct AddCommand {
  DeviceSpec spec;
  bool depth_given = false;  // -d on the command line or in the config
  bool foreground = false;
  bool json = false;
};
struct DelCommand {
  std::optional<uint32_t> id;  // unset with --all
  bool all = false;
  bool safe = false;  // --safe: only devices nobody has open (TRY_STOP_DEV)
};
struct RecoverCommand {
  uint32_t id = 0;
  bool json = false;
};
// restart and resize name a device by id or by name.
struct RestartCommand {
  std::optional<uint32_t> id;
  std::string name;  // when no id
};
struct ResizeCommand {
  std::optional<uint32_t> id;
  std::string name;  // when no id
  uint64_t size = 0;  // bytes
};
struct ListCommand {
  std::optional<uint32_t> id;
  bool json = false;
};
// stats names a device by id or name, or none: every device with metrics.
struct StatsCommand {
  std::optional<uint32_t> id;
  std::string name;
  bool json = false;
  bool prometheus = false;
  uint32_t watch_s = 0;  // 0: print once
};
struct FeaturesCommand {
  bool json = false;
};
struct HelpCommand {
  std::string topic{};   // "" for the overview, else a command name
  std::string target{};  // add: only this target type's options ("" for all)
};
struct VersionCommand {};

using Command = std::variant<AddCommand, DelCommand, ListCommand,
                             FeaturesCommand, HelpCommand, VersionCommand,
                             RecoverCommand, RestartCommand, ResizeCommand,
                             StatsCommand>;

// args excludes the program name.
Result<Command> ParseCommandLine(const std::vector<std::string>& args);

// The commands, and each one's options as spelled on the command line
// (testing knobs left out): what the man page and shell completion offer.
struct OptionSpelling {
  std::string short_form;  // "-n", or "" for none
  std::string long_form;   // "--number"
  bool takes_value = false;
};
std::vector<std::string> CommandNames();
std::vector<OptionSpelling> CommandOptions(const std::string& command);

// The text for `ublk help [topic]`; empty when there is no such topic.
// With `target` (`ublk help add -t TYPE`), add's text shows only what that
// target type takes; empty when there is no such type.
std::string HelpText(const std::string& topic, const std::string& target = "");

}  // namespace ublk

// libFuzzer harness: the `ublk` command line. The input is split at NUL bytes
// into argv words; ParseCommandLine must return a command or an error for
// every input, and never crash, leak, exit or hit undefined behaviour.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "options.h"
#include "spec_json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<std::string> args;
  std::string word;
  for (size_t i = 0; i < size; ++i) {
    if (data[i] == '\0') {
      args.push_back(word);
      word.clear();
    } else {
      word.push_back(static_cast<char>(data[i]));
    }
  }
  if (size > 0) args.push_back(word);
  auto parsed = ublk::ParseCommandLine(args);
  if (!parsed) {
    // Every error is one line for the user.
    if (parsed.error().message().empty() ||
        parsed.error().message().find('\n') != std::string::npos)
      __builtin_trap();
    return 0;
  }
  if (auto* help = std::get_if<ublk::HelpCommand>(&*parsed))
    (void)ublk::HelpText(help->topic, help->target);
  // What add hands the server must survive its own round trip.
  if (auto* add = std::get_if<ublk::AddCommand>(&*parsed)) {
    auto back = ublk::SpecFromJson(ublk::SpecToJson(add->spec));
    if (back && !(*back == add->spec)) __builtin_trap();
  }
  return 0;
}

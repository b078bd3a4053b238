// libFuzzer harness: the JSON of a state file (/run/ublk/<id>.json) and of
// the server's --spec. Any text must give a value or an Error, never a crash,
// leak or undefined behaviour; whatever is accepted must round-trip.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "spec_json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto json = ublk::ParseJson(text, "fuzz");
  if (!json) return 0;
  if (auto spec = ublk::SpecFromJson(*json)) {
    auto back = ublk::SpecFromJson(ublk::SpecToJson(*spec));
    if (!back || !(*back == *spec)) __builtin_trap();
  }
  if (auto state = ublk::StateFromJson(*json)) {
    // Both as built and as written to disk and read back.
    auto built = ublk::StateToJson(*state);
    auto back = ublk::StateFromJson(built);
    if (!back || !(*back == *state)) __builtin_trap();
    auto reread = ublk::ParseJson(built.dump(2), "fuzz");
    if (!reread) __builtin_trap();
    back = ublk::StateFromJson(*reread);
    if (!back || !(*back == *state)) __builtin_trap();
  }
  if (json->is_object() && json->contains("spec")) {
    if (auto spec = ublk::SpecFromJson((*json)["spec"])) (void)spec->type;
  }
  return 0;
}

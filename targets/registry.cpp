#include "registry.h"

#include "null.h"

namespace ublk {
namespace {

constexpr TargetType kTypes[] = {
    {"null", "discards writes, reads return no data; for testing and benchmarks",
     &CreateNullTarget},
};

}  // namespace

std::span<const TargetType> TargetTypes() { return kTypes; }

const TargetType* FindTargetType(std::string_view name) {
  for (const TargetType& t : kTypes)
    if (t.name == name) return &t;
  return nullptr;
}

}  // namespace ublk

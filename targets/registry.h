// The table of backends. Adding a backend is one file pair and one line in
// registry.cpp.
#pragma once

#include <memory>
#include <span>
#include <string_view>

#include "ublk/result.h"
#include "ublk/spec.h"
#include "ublk/target.h"

namespace ublk {

struct TargetType {
  std::string_view name;
  std::string_view summary;  // one line for `ublk help add`
  // What every target of this type does with request data (as its
  // Target::data_access()); known before opening anything, so `ublk add`
  // can refuse a data path the kernel lacks before probing the backend.
  DataAccess data_access;
  // Validates the spec's target options and opens the backend. Errors name
  // the option or file at fault.
  Result<std::unique_ptr<Target>> (*create)(const DeviceSpec& spec);
};

std::span<const TargetType> TargetTypes();
// nullptr when there is no such type.
const TargetType* FindTargetType(std::string_view name);

}  // namespace ublk

// The table of backends. Adding a backend is one file pair and one line in
// registry.cpp; adding an option to a backend is one row in the table of
// options it declares (ublk/target_options.h), next to the code using it.
#pragma once

#include <memory>
#include <span>
#include <string_view>

#include "ublk/result.h"
#include "ublk/spec.h"
#include "ublk/target.h"
#include "ublk/target_options.h"

namespace ublk {

// Whether a target is backed by a file or device named with -f PATH.
enum class FileUse : uint8_t { kNone, kRequired };

struct TargetType {
  std::string_view name;
  std::string_view summary;  // one line for `ublk help add`
  // What every target of this type does with request data (as its
  // Target::data_access()); known before opening anything, so `ublk add`
  // can refuse a data path the kernel lacks before probing the backend.
  DataAccess data_access;
  // The backend options every target declares: -f, --size, --read-only.
  // -z is taken exactly by the targets that touch data (data_access).
  FileUse file;
  std::string_view file_needed;  // kRequired: "a backing file: -f PATH"
  bool takes_size;
  bool takes_read_only;  // a target storing data takes it
  // The options only this target takes.
  std::span<const TargetOptionDef> options;
  // Opens the backend for a spec that passed CheckSpecOptions
  // (option_table.h), turning spec.options into the target's own typed
  // options. Errors name the option or file at fault.
  Result<std::unique_ptr<Target>> (*create)(const DeviceSpec& spec);
  // -f names a server (a URI), not a path: no file to stat, identify or
  // check against other devices' backing stores.
  bool file_is_address = false;
  // Each queue is one connection that one thread drives: --threads must
  // stay one per queue.
  bool one_thread_per_queue = false;
};

std::span<const TargetType> TargetTypes();
// nullptr when there is no such type.
const TargetType* FindTargetType(std::string_view name);

}  // namespace ublk

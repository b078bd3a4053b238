// ublk list and ublk features.
#include <cerrno>
#include <cstdio>

#include "backing_file.h"
#include "commands.h"
#include "control_device.h"
#include "feature_flags.h"
#include "size.h"
#include "state_file.h"

namespace ublk {
namespace {

const char* StateName(uint16_t state) {
  switch (state) {
    case abi::kStateDead:
      return "DEAD";
    case abi::kStateLive:
      return "LIVE";
    case abi::kStateQuiesced:
      return "QUIESCED";
    case abi::kStateFailIo:
      return "FAIL_IO";
  }
  return "UNKNOWN";
}

nlohmann::json Describe(const abi::DevInfo& info,
                        const Result<DeviceState>& state) {
  nlohmann::json j = {{"dev_id", info.dev_id},
                      {"state", StateName(info.state)},
                      {"queues", info.nr_hw_queues},
                      {"depth", info.queue_depth},
                      {"max_io_bytes", info.max_io_buf_bytes},
                      {"pid", info.ublksrv_pid},
                      {"flags", info.flags},
                      {"features", FeatureNames(info.flags)},
                      {"char", "/dev/ublkc" + std::to_string(info.dev_id)},
                      {"block", "/dev/ublkb" + std::to_string(info.dev_id)}};
  if (state) {
    j["type"] = state->spec.type;
    j["name"] = state->spec.name;
    j["size"] = state->size_bytes;
    j["data_path"] = state->data_path;
    j["spec"] = SpecToJson(state->spec);
  } else {
    j["type"] = nullptr;
    j["state_file"] = state.error().message();
  }
  return j;
}

}  // namespace

int RunList(const ListCommand& cmd) {
  auto control = ControlDevice::Open();
  if (!control) return Fail(control.error().message());
  std::vector<uint32_t> ids;
  if (cmd.id) {
    if (!DeviceExists(*cmd.id))
      return Fail("device " + std::to_string(*cmd.id) + " does not exist");
    ids.push_back(*cmd.id);
  } else {
    ids = ListDeviceIds();
  }
  nlohmann::json rows = nlohmann::json::array();
  for (uint32_t id : ids) {
    auto info = control->GetDevInfo(id);
    if (!info) {
      if (cmd.id) return Fail(info.error().message());
      if (DeviceExists(id))  // else it was deleted meanwhile
        std::fprintf(stderr, "ublk: %s\n", info.error().message().c_str());
      continue;
    }
    auto state = ReadState(StateDir(), id);
    // A bad state file is reported and the device listed without it.
    if (!state && state.error().code().value() != ENOENT)
      std::fprintf(stderr, "ublk: device %u: %s\n", id,
                   state.error().message().c_str());
    rows.push_back(Describe(*info, state));
    // A backing path that no longer names the recorded file would make a
    // recover serve the wrong data: say so while the device still runs.
    if (state) {
      if (auto backing = CheckBackingFile(*state); !backing) {
        std::fprintf(stderr, "ublk: device %u: %s\n", id,
                     backing.error().message().c_str());
        rows.back()["backing_error"] = backing.error().message();
      }
    }
  }
  if (cmd.json) {
    std::printf("%s\n", rows.dump(2).c_str());
    return 0;
  }
  std::printf("%-4s %-9s %-6s %-10s %-6s %-6s %-8s %-18s %-12s %s\n", "ID",
              "STATE", "TYPE", "SIZE", "QUEUES", "DEPTH", "PID", "DATA",
              "BLOCK", "NAME");
  for (const auto& r : rows) {
    std::string size = r.contains("size") ? FormatSize(r["size"].get<uint64_t>())
                                          : "-";
    std::string type = r["type"].is_string() ? r["type"].get<std::string>() : "?";
    std::string name = r.contains("name") ? r["name"].get<std::string>() : "";
    std::string data = r.contains("data_path")
                           ? r["data_path"].get<std::string>()
                           : "?";
    std::printf("%-4u %-9s %-6s %-10s %-6u %-6u %-8d %-18s %-12s %s\n",
                r["dev_id"].get<unsigned>(),
                r["state"].get<std::string>().c_str(), type.c_str(),
                size.c_str(), r["queues"].get<unsigned>(),
                r["depth"].get<unsigned>(), r["pid"].get<int>(),
                data.c_str(), r["block"].get<std::string>().c_str(),
                name.c_str());
  }
  return 0;
}

int RunFeatures(const FeaturesCommand& cmd) {
  auto control = ControlDevice::Open();
  if (!control) return Fail(control.error().message());
  const uint64_t flags = control->features();
  const auto names = FeatureNames(flags);
  if (cmd.json) {
    std::printf("%s\n",
                nlohmann::json({{"flags", flags}, {"features", names}}).dump(2).c_str());
    return 0;
  }
  for (const auto& n : names) std::printf("%s\n", n.c_str());
  return 0;
}

}  // namespace ublk

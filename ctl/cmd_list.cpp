// ublk list and ublk features.
#include <cerrno>
#include <cstdio>

#include "backing_file.h"
#include "commands.h"
#include "control_device.h"
#include "feature_flags.h"
#include "json_fields.h"
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

// One device as `list` shows it: the kernel's info, and the state file
// when it could be read.
struct Row {
  abi::DevInfo info;
  Result<DeviceState> state;
  std::string backing_error;  // the recorded backing file no longer matches
};

nlohmann::json Describe(const Row& row) {
  const abi::DevInfo& info = row.info;
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
  if (row.state) {
    j["type"] = row.state->spec.type;
    j["name"] = row.state->spec.name;
    j["size"] = row.state->size_bytes;
    j["data_path"] = row.state->data_path;
    j["spec"] = SpecToJson(row.state->spec);
  } else {
    j["type"] = nullptr;
    j["state_file"] = row.state.error().message();
  }
  if (!row.backing_error.empty()) j["backing_error"] = row.backing_error;
  return j;
}

void PrintTable(const std::vector<Row>& rows) {
  std::printf("%-4s %-9s %-6s %-10s %-6s %-6s %-8s %-18s %-12s %s\n", "ID",
              "STATE", "TYPE", "SIZE", "QUEUES", "DEPTH", "PID", "DATA",
              "BLOCK", "NAME");
  for (const Row& r : rows) {
    const DeviceState* st = r.state ? &*r.state : nullptr;
    const std::string block = "/dev/ublkb" + std::to_string(r.info.dev_id);
    std::printf("%-4u %-9s %-6s %-10s %-6u %-6u %-8d %-18s %-12s %s\n",
                r.info.dev_id, StateName(r.info.state),
                st ? st->spec.type.c_str() : "?",
                st ? FormatSize(st->size_bytes).c_str() : "-",
                r.info.nr_hw_queues, r.info.queue_depth, r.info.ublksrv_pid,
                st ? st->data_path.c_str() : "?", block.c_str(),
                st ? st->spec.name.c_str() : "");
  }
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
  std::vector<Row> rows;
  for (uint32_t id : ids) {
    auto info = control->GetDevInfo(id);
    if (!info) {
      if (cmd.id) return Fail(info.error().message());
      if (DeviceExists(id))  // else it was deleted meanwhile
        std::fprintf(stderr, "ublk: %s\n", info.error().message().c_str());
      continue;
    }
    Row row{*info, ReadState(StateDir(), id), ""};
    // A bad state file is reported and the device listed without it.
    if (!row.state && row.state.error().code().value() != ENOENT)
      std::fprintf(stderr, "ublk: device %u: %s\n", id,
                   row.state.error().message().c_str());
    // A backing path that no longer names the recorded file would make a
    // recover serve the wrong data: say so while the device still runs.
    if (row.state) {
      if (auto backing = CheckBackingFile(*row.state); !backing) {
        std::fprintf(stderr, "ublk: device %u: %s\n", id,
                     backing.error().message().c_str());
        row.backing_error = backing.error().message();
      }
    }
    rows.push_back(std::move(row));
  }
  if (cmd.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const Row& r : rows) out.push_back(Describe(r));
    std::printf("%s\n", DumpJson(out, 2).c_str());
    return 0;
  }
  PrintTable(rows);
  return 0;
}

int RunFeatures(const FeaturesCommand& cmd) {
  auto control = ControlDevice::Open();
  if (!control) return Fail(control.error().message());
  const uint64_t flags = control->features();
  const auto names = FeatureNames(flags);
  if (cmd.json) {
    std::printf("%s\n",
                DumpJson({{"flags", flags}, {"features", names}}, 2).c_str());
    return 0;
  }
  for (const auto& n : names) std::printf("%s\n", n.c_str());
  return 0;
}

}  // namespace ublk

// ublk list and ublk features.
#include <cerrno>
#include <cstdio>

#include "backing_file.h"
#include "commands.h"
#include "control_device.h"
#include "feature_flags.h"
#include "json_fields.h"
#include "listing.h"
#include "state_file.h"

namespace ublk {

int RunList(const ListCommand& cmd) {
  auto control = ControlDevice::Open();
  if (!control) return Fail(control.error().message());
  std::vector<uint32_t> ids;
  if (cmd.id) {
    if (!DeviceExists(*cmd.id))
      return Fail("device " + std::to_string(*cmd.id) + " does not exist");
    if (auto mine = CheckMayManage(*cmd.id, "list"); !mine)
      return Fail(mine.error().message());
    ids.push_back(*cmd.id);
  } else {
    // A user sees their own devices; the kernel tells them nothing of
    // anyone else's.
    for (uint32_t id : ListDeviceIds())
      if (IsMine(id)) ids.push_back(id);
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
    Row row{*info, ReadDeviceState(id), "", IntegrityOf(*control, id),
            ZonesOf(*control, id)};
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
  for (const Row& r : rows) PrintDevice(*control, r);
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

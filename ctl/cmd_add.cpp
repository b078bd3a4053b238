// ublk add: validate everything, then start a server and wait for it.
#include <sys/utsname.h>

#include <fstream>

#include "commands.h"
#include "control_device.h"
#include "feature_flags.h"
#include "launch.h"
#include "recovery.h"
#include "registry.h"
#include "size.h"

namespace ublk {
namespace {

// Number of possible CPUs: the kernel caps a device's queues at this.
int PossibleCpus() {
  std::ifstream in("/sys/devices/system/cpu/possible");
  std::string text;
  if (!(in >> text)) return 1;
  int count = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t comma = text.find(',', pos);
    std::string range = text.substr(pos, comma - pos);
    size_t dash = range.find('-');
    int lo = std::stoi(range.substr(0, dash));
    int hi = dash == std::string::npos ? lo : std::stoi(range.substr(dash + 1));
    count += hi - lo + 1;
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return count;
}

}  // namespace

void PrintReport(const nlohmann::json& r, bool json) {
  // The target's notes (read-only device, buffered I/O and why), which the
  // server logged where this user may not look.
  if (auto notes = r.find("notes"); notes != r.end() && notes->is_array())
    for (const auto& note : *notes)
      if (note.is_string())
        std::fprintf(stderr, "ublk: %s\n", note.get<std::string>().c_str());
  if (json) {
    nlohmann::json out = r;
    out.erase("ok");
    std::printf("%s\n", out.dump(2).c_str());
    return;
  }
  std::string features;
  for (const auto& f : r["features"])
    features += (features.empty() ? "" : " ") + f.get<std::string>();
  const bool recovered = r.value("recovered", false);
  std::printf("dev %u: %s live%s\n", r["dev_id"].get<unsigned>(),
              r["block"].get<std::string>().c_str(),
              recovered ? " again (recovered)" : "");
  std::printf("  type %s, %s, %u queue(s) x depth %u, max I/O %s, server pid %d\n",
              r["type"].get<std::string>().c_str(),
              FormatSize(r["size"].get<uint64_t>()).c_str(),
              r["queues"].get<unsigned>(), r["depth"].get<unsigned>(),
              FormatSize(r["max_io_bytes"].get<uint64_t>()).c_str(),
              r["pid"].get<int>());
  std::printf("  data path: %s\n", r["data_path"].get<std::string>().c_str());
  std::printf("  recovery: %s\n", r.value("recovery", "off").c_str());
  std::printf("  features: %s\n", features.c_str());
  std::fflush(stdout);
}

int Fail(const std::string& message) {
  std::fprintf(stderr, "ublk: %s\n", message.c_str());
  return 1;
}

int RunAdd(const AddCommand& cmd) {
  const DeviceSpec& spec = cmd.spec;
  auto control = ControlDevice::Open();
  if (!control) return Fail(control.error().message());
  if (int cpus = PossibleCpus(); spec.queues > cpus)
    return Fail("-q " + std::to_string(spec.queues) +
                ": this kernel allows at most " + std::to_string(cpus) +
                " queue(s) (one per possible CPU)");
  if (spec.id && DeviceExists(*spec.id)) {
    // A foreground server restarted by its supervisor finds its device
    // waiting for it and takes it over (user recovery).
    if (!cmd.foreground)
      return Fail("device " + std::to_string(*spec.id) + " already exists");
    auto recover = CheckRecover(*control, *spec.id);
    if (!recover)
      return Fail("device " + std::to_string(*spec.id) +
                  " already exists and cannot be recovered: " +
                  recover.error().message());
    auto server = FindServer();
    if (!server) return Fail(server.error().message());
    return Fail(ExecForeground(*server, *recover, &PrintReport, cmd.json,
                               /*recover=*/true)
                    .message());
  }
  const TargetType* type = FindTargetType(spec.type);
  // The server makes the same choice; refusing here, before the backend is
  // probed (which may warn), keeps -z on an old kernel to one line with no
  // server started.
  Result<void> usable;
  if (auto flags = ChooseFlags(control->features(), type->data_access,
                               spec.zero_copy);
      !flags)
    usable = flags.error();
  else if (auto rec = RecoveryFlags(control->features(), spec.recovery); !rec)
    usable = rec.error();
  else if (auto both = CheckRecoveryDataPath(spec.recovery, spec.zero_copy);
           !both)
    usable = both.error();
  if (!usable) {
    utsname u{};
    std::string running = uname(&u) == 0 ? std::string(u.release) : "?";
    return Fail(usable.error().message() + " (running " + running + ")");
  }
  // The backend is opened and probed once, by the server: its refusal comes
  // back as one line through the ready pipe, its notes in the report.
  auto server = FindServer();
  if (!server) return Fail(server.error().message());
  if (cmd.foreground)
    return Fail(ExecForeground(*server, spec, &PrintReport, cmd.json).message());
  // START_DEV under an emulator can take a while; a real failure is quick.
  auto report = LaunchDetached(*server, spec, 120000);
  if (!report) return Fail(report.error().message());
  PrintReport(*report, cmd.json);
  return 0;
}

}  // namespace ublk

// ublk add: validate everything, then start a server and wait for it.
#include <sys/resource.h>
#include <sys/utsname.h>

#include <charconv>
#include <fstream>

#include "commands.h"
#include "control_device.h"
#include "feature_flags.h"
#include "json_fields.h"
#include "launch.h"
#include "recovery.h"
#include "registry.h"
#include "size.h"
#include "state_file.h"
#include "thread_plan.h"
#include "unprivileged.h"

namespace ublk {

int Fail(const std::string& message) {
  std::fprintf(stderr, "ublk: %s\n", message.c_str());
  return 1;
}

int RunAdd(const AddCommand& add) {
  AddCommand cmd = add;
  DeviceSpec& spec = cmd.spec;
  // The spec reaches the server, and the state file, as JSON, which carries
  // only UTF-8: another encoding would name a different file there.
  if (!IsUtf8(spec.file))
    return Fail("-f " + spec.file + ": the path is not valid UTF-8 (not supported)");
  auto control = ControlDevice::Open();
  if (!control) return Fail(control.error().message());
  // The kernel grants at most one queue per possible CPU and would clamp a
  // larger -q itself; the reference server takes that. Say so, then do it.
  if (int cpus = PossibleCpus(); spec.queues > cpus) {
    std::fprintf(stderr,
                 "ublk: -q %u: this kernel allows at most %d queue(s) (one "
                 "per possible CPU); using %d\n",
                 spec.queues, cpus, cpus);
    spec.queues = static_cast<uint16_t>(cpus);
  }
  // A foreground server (ublk@NAME.service) that its supervisor restarts
  // finds its device by name, when the kernel chose the id.
  if (cmd.foreground && !spec.id && !spec.name.empty())
    spec.id = DeviceNamed(spec.name);
  if (!cmd.foreground && !spec.name.empty())
    if (auto other = DeviceNamed(spec.name))
      return Fail("--name " + spec.name + ": device " +
                  std::to_string(*other) + " has that name already");
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
  // Without CAP_SYS_ADMIN the device is an unprivileged one, the caller's:
  // what the kernel refuses such a device is refused here, saying why.
  uint64_t features = control->features();
  if (!HasCapSysAdmin()) {
    if (auto ok = CheckUnprivilegedSpec(features, spec, !type->file_is_address);
        !ok)
      return Fail(ok.error().message());
    features = UnprivilegedFeatures(features);
    // The per-tag buffers of a copying target are pinned, against the
    // user's locked-memory limit (often 8 MiB, where the default depth
    // takes 64 MiB): without -d, a depth that fits.
    rlimit lim{};
    if (!cmd.depth_given && type->data_access == DataAccess::kBuffer &&
        ::getrlimit(RLIMIT_MEMLOCK, &lim) == 0) {
      const uint16_t fit = DepthWithinMemlock(spec.depth, spec.queues,
                                              spec.max_io_bytes, lim.rlim_cur);
      if (fit < spec.depth) {
        std::fprintf(stderr,
                     "ublk: depth %u per queue, so the per-tag buffers fit "
                     "half the locked-memory limit (%llu KiB, ulimit -l); "
                     "-d N chooses\n",
                     fit, static_cast<unsigned long long>(lim.rlim_cur >> 10));
        spec.depth = fit;
      }
    }
  }
  // The server makes the same choice; refusing here, before the backend is
  // probed (which may warn), keeps -z on an old kernel to one line with no
  // server started.
  Result<void> usable;
  if (auto flags = ChooseFlags(features, type->data_access, spec); !flags)
    usable = flags.error();
  else if (auto rec = RecoveryFlags(features, spec.recovery); !rec)
    usable = rec.error();
  else if (auto batch = BatchFlags(control->features(), spec); !batch)
    usable = batch.error();
  else if (auto threads = CheckThreads(features, spec,
                                       type->one_thread_per_queue,
                                       PossibleCpus());
           !threads)
    usable = threads.error();
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

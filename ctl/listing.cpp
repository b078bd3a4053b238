#include "listing.h"

#include <cstdio>
#include <utility>

#include "feature_flags.h"
#include "json_fields.h"
#include "recovery.h"
#include "size.h"
#include "spec_json.h"
#include "state_file.h"
#include "thread_plan.h"

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

// The flag names the reference server prints, in its order.
constexpr std::pair<uint64_t, const char*> kReferenceFlagNames[] = {
    {abi::kFSupportZeroCopy, "SUPPORT_ZERO_COPY"},
    {abi::kFUringCmdCompInTask, "URING_CMD_COMP_IN_TASK"},
    {abi::kFNeedGetData, "NEED_GET_DATA"},
    {abi::kFUnprivilegedDev, "UNPRIVILEGED_DEV"},
    {abi::kFUserRecovery, "RECOVERY"},
    {abi::kFUserRecoveryReissue, "RECOVERY_REISSUE"},
    {abi::kFCmdIoctlEncode, "CMD_IOCTL_ENCODE"},
    {abi::kFUserCopy, "USER_COPY"},
    {abi::kFZoned, "ZONED"},
    {abi::kFUserRecoveryFailIo, "RECOVERY_FAIL_IO"},
    {abi::kFBatchIo, "BATCH_IO"},
    {abi::kFShmemZc, "SHMEM_ZC"},
};

std::string CpuList(const std::vector<int>& cpus) {
  std::string out;
  for (int cpu : cpus) out += std::to_string(cpu) + " ";
  return out;
}

}  // namespace

IntegrityProfile IntegrityOf(ControlDevice& control, uint32_t id) {
  IntegrityProfile ip;
  auto p = control.GetParams(id);
  if (!p || !(p->types & abi::kParamTypeIntegrity)) return ip;
  ip.metadata_size = p->integrity.metadata_size;
  ip.pi_offset = p->integrity.pi_offset;
  ip.csum_type = p->integrity.csum_type;
  ip.tag_size = p->integrity.tag_size;
  ip.flags = p->integrity.flags;
  return ip;
}

Row::Zones ZonesOf(ControlDevice& control, uint32_t id) {
  Row::Zones z;
  auto p = control.GetParams(id);
  if (!p || !(p->types & abi::kParamTypeZoned) || p->basic.chunk_sectors == 0)
    return z;
  z.zone_bytes = uint64_t{p->basic.chunk_sectors} << 9;
  z.zones = p->basic.dev_sectors / p->basic.chunk_sectors;
  z.max_open = p->zoned.max_open_zones;
  z.max_active = p->zoned.max_active_zones;
  z.append_bytes = uint64_t{p->zoned.max_zone_append_sectors} << 9;
  return z;
}

// nvme --poll: the backend's commands go to the controller's poll queues.
bool Polled(const DeviceSpec& spec) {
  const OptionValue* v = spec.options.Find("poll");
  return v != nullptr && std::holds_alternative<bool>(*v) && std::get<bool>(*v);
}

nlohmann::json Describe(const Row& row) {
  const abi::DevInfo& info = row.info;
  nlohmann::json j = {{"dev_id", info.dev_id},
                      {"state", StateName(info.state)},
                      {"queues", info.nr_hw_queues},
                      {"depth", info.queue_depth},
                      {"max_io_bytes", info.max_io_buf_bytes},
                      {"pid", info.ublksrv_pid},
                      {"owner_uid", info.owner_uid},
                      {"owner_gid", info.owner_gid},
                      {"flags", info.flags},
                      {"features", FeatureNames(info.flags)},
                      {"char", "/dev/ublkc" + std::to_string(info.dev_id)},
                      {"block", "/dev/ublkb" + std::to_string(info.dev_id)}};
  if (row.state) {
    j["type"] = row.state->spec.type;
    j["name"] = row.state->spec.name;
    j["size"] = row.state->size_bytes;
    j["data_path"] = row.state->data_path;
    j["poll"] = Polled(row.state->spec);
    j["batch"] = (info.flags & abi::kFBatchIo) != 0;
    j["threads"] = row.state->queue_tids.empty()
                       ? ThreadCount(row.state->spec, info.nr_hw_queues)
                       : row.state->queue_tids.size();
    if (!row.state->connection.empty())
      j["connection"] = row.state->connection;
    j["spec"] = SpecToJson(row.state->spec);
  } else {
    j["type"] = nullptr;
    j["state_file"] = row.state.error().message();
  }
  j["integrity"] = IntegrityFormatName(row.integrity);
  if (row.integrity.metadata_size != 0) {
    j["metadata_bytes"] = row.integrity.metadata_size;
    j["integrity_tag_size"] = row.integrity.tag_size;
  }
  if (row.zones.zone_bytes != 0) {
    j["zoned"] = "host-managed";
    j["zone_bytes"] = row.zones.zone_bytes;
    if (row.state && row.state->zone_capacity_bytes != 0)
      j["zone_capacity"] = row.state->zone_capacity_bytes;
    j["zones"] = row.zones.zones;
    j["max_open_zones"] = row.zones.max_open;
    j["max_active_zones"] = row.zones.max_active;
    j["max_zone_append_bytes"] = row.zones.append_bytes;
  }
  if (!row.backing_error.empty()) j["backing_error"] = row.backing_error;
  return j;
}

// One device in the reference server's layout, which scripts parse with
// grep and awk ("grep pid | awk '{print $7}'", "grep state | awk
// '{print $9}'", "grep 'queue 0' | awk '{print $4}'"), then this server's
// own lines, which hold none of the words those scripts grep for.
void PrintDevice(ControlDevice& control, const Row& r) {
  const abi::DevInfo& info = r.info;
  const DeviceState* st = r.state ? &*r.state : nullptr;
  abi::Params p{};
  if (auto params = control.GetParams(info.dev_id)) p = *params;
  std::printf(
      "dev id %u: nr_hw_queues %u queue_depth %u block size %u dev_capacity "
      "%llu\n",
      info.dev_id, info.nr_hw_queues, info.queue_depth,
      1u << p.basic.logical_bs_shift,
      static_cast<unsigned long long>(p.basic.dev_sectors));
  std::printf("\tmax rq size %u daemon pid %d state %s\n",
              info.max_io_buf_bytes, info.ublksrv_pid,
              StateName(info.state));
  std::string names;
  uint64_t named = 0;
  for (const auto& [bit, name] : kReferenceFlagNames) {
    if (info.flags & bit) names += std::string(" ") + name;
    named |= bit;
  }
  // Then what the reference does not name (AUTO_BUF_REG, ...).
  for (const std::string& name : FeatureNames(info.flags & ~named))
    names += " " + name;
  std::printf("\tflags 0x%llx [%s ]\n",
              static_cast<unsigned long long>(info.flags), names.c_str());
  std::printf("\tublkc: %u:%u ublkb: %u:%u owner: %u:%u\n",
              p.devt.char_major, p.devt.char_minor, p.devt.disk_major,
              p.devt.disk_minor, info.owner_uid, info.owner_gid);
  for (uint16_t q = 0; q < info.nr_hw_queues; ++q) {
    // The queue's threads: q, q + queues, ... (thread_plan.h).
    std::string tids;
    if (st != nullptr)
      for (size_t t = q; t < st->queue_tids.size(); t += info.nr_hw_queues)
        tids += (tids.empty() ? "" : ",") + std::to_string(st->queue_tids[t]);
    auto cpus = control.GetQueueAffinity(info.dev_id, q);
    std::printf("\tqueue %u: tid %s affinity(%s)\n", q,
                tids.empty() ? "0" : tids.c_str(),
                cpus ? CpuList(*cpus).c_str() : "");
  }
  if (st == nullptr) return;
  nlohmann::json target = {{"name", st->spec.type},
                           {"dev_size", st->size_bytes}};
  if (!st->spec.file.empty()) target["backing_file"] = st->spec.file;
  std::printf("\ttarget %s\n", DumpJson(target).c_str());
  std::printf("\tname %s\n", st->spec.name.empty() ? "-" : st->spec.name.c_str());
  // More threads than queues: each queue's tags are split among them.
  const std::string threads =
      st->queue_tids.size() > info.nr_hw_queues
          ? ", " + std::to_string(st->queue_tids.size()) + " threads"
          : std::string();
  std::printf("\tdata path %s%s%s%s, recovery %s, size %s, %s\n",
              st->data_path.c_str(),
              Polled(st->spec) ? ", polled backend I/O" : "",
              (info.flags & abi::kFBatchIo) ? ", batch commands" : "",
              threads.c_str(),
              RecoveryName(RecoveryOfDevice(info.flags)),
              FormatSize(st->size_bytes).c_str(),
              ("/dev/ublkb" + std::to_string(info.dev_id)).c_str());
  if (!st->connection.empty())
    std::printf("\tconnection %s\n", st->connection.c_str());
  if (r.integrity.metadata_size != 0)
    std::printf("\tintegrity %s, metadata %u bytes per block, tag size %u\n",
                IntegrityFormatName(r.integrity).c_str(),
                r.integrity.metadata_size, r.integrity.tag_size);
  if (r.zones.zone_bytes != 0) {
    // 0 limits mean none, as in sysfs.
    std::string cap = st->zone_capacity_bytes != 0
                          ? std::to_string(st->zone_capacity_bytes)
                          : std::string("varies");
    std::printf(
        "	zoned host-managed, zone size %llu, zone capacity %s, zones %llu, "
        "max open %u, max active %u, zone append %llu\n",
        static_cast<unsigned long long>(r.zones.zone_bytes), cap.c_str(),
        static_cast<unsigned long long>(r.zones.zones), r.zones.max_open,
        r.zones.max_active,
        static_cast<unsigned long long>(r.zones.append_bytes));
  }
}

bool PrintDeviceById(uint32_t id) {
  auto control = ControlDevice::Open();
  if (!control) return false;
  auto info = control->GetDevInfo(id);
  if (!info) return false;
  PrintDevice(*control, Row{*info, ReadDeviceState(id), "",
                            IntegrityOf(*control, id), ZonesOf(*control, id)});
  std::fflush(stdout);
  return true;
}

}  // namespace ublk

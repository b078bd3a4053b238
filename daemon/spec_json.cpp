#include "spec_json.h"

#include <algorithm>
#include <limits>

#include "data_path.h"
#include "json_fields.h"
#include "option_table.h"
#include "registry.h"
#include "ublk/abi.h"

namespace ublk {
namespace {

using nlohmann::json;

json OptionToJson(const OptionValue& v) {
  if (const auto* b = std::get_if<bool>(&v)) return *b;
  if (const auto* n = std::get_if<uint64_t>(&v)) return *n;
  return std::get<std::string>(v);
}

// A JSON value as the kind `def` declares, or an error naming `key`.
Result<OptionValue> OptionFromJson(const TargetOptionDef& def,
                                   const std::string& key, const json& v) {
  switch (def.kind) {
    case OptionKind::kFlag:
      if (v.is_boolean()) return OptionValue(v.get<bool>());
      return Invalid("field \"" + key + "\" must be true or false");
    case OptionKind::kSize:
    case OptionKind::kNumber:
      if (v.is_number_unsigned() ||
          (v.is_number_integer() && v.get<int64_t>() >= 0))
        return OptionValue(v.get<uint64_t>());
      return Invalid("field \"" + key + "\" must be a whole number");
    case OptionKind::kChoice:
      if (v.is_string()) return OptionValue(v.get<std::string>());
      return Invalid("field \"" + key + "\" must be a string");
  }
  return Invalid("field \"" + key + "\": unknown kind");
}

// The target's own options: {"options": {NAME: VALUE}}, keyed by the
// option's name. A spec written before options had their own object (no
// "options") kept them at its top level, spelled with '_' ("offset",
// "logical_block_size", "buffered"), for every target alike: read those the
// target has and leave the rest.
Result<TargetOptions> OptionsFromJson(const TargetType& type, const json& j) {
  TargetOptions out;
  auto it = j.find("options");
  if (it == j.end()) {
    for (const TargetOptionDef& def : type.options) {
      std::string key(def.name);
      std::replace(key.begin(), key.end(), '-', '_');
      auto old = j.find(key);
      if (old == j.end()) continue;
      auto v = OptionFromJson(def, key, *old);
      if (!v) return v.error();
      out.Set(std::string(def.name), std::move(*v));
    }
    return out;
  }
  if (!it->is_object()) return Invalid("field \"options\" must be an object");
  for (const auto& [key, value] : it->items()) {
    const TargetOptionDef* def = FindOptionDef(type.options, key);
    if (def == nullptr)
      return NotAnOption("--" + key, type).Wrap("field \"options\"");
    auto v = OptionFromJson(*def, key, value);
    if (!v) return v.error().Wrap("field \"options\"");
    out.Set(key, std::move(*v));
  }
  return out;
}

json TestingToJson(const TestingOptions& t) {
  return {{"stall_before_start", t.stall_before_start_s},
          {"stall_before_stop", t.stall_before_stop_s},
          {"force_auto_fallback", t.force_auto_fallback}};
}

Result<TestingOptions> TestingFromJson(const json& j) {
  if (!j.is_object()) return Invalid("field \"testing\" must be an object");
  TestingOptions t;
  uint64_t v = 0;
  UBLK_RETURN_IF_ERROR(
      GetUnsigned(j, "stall_before_start", kMaxStallSeconds, &v, false));
  t.stall_before_start_s = static_cast<uint32_t>(v);
  v = 0;
  UBLK_RETURN_IF_ERROR(
      GetUnsigned(j, "stall_before_stop", kMaxStallSeconds, &v, false));
  t.stall_before_stop_s = static_cast<uint32_t>(v);
  UBLK_RETURN_IF_ERROR(
      GetBool(j, "force_auto_fallback", &t.force_auto_fallback));
  return t;
}

}  // namespace

const char* ZeroCopyName(ZeroCopy z) {
  switch (z) {
    case ZeroCopy::kBest:
      return "best";
    case ZeroCopy::kOff:
      return "off";
    case ZeroCopy::kAuto:
      return "auto";
    case ZeroCopy::kExplicit:
      return "explicit";
  }
  return "?";
}

std::optional<ZeroCopy> ParseZeroCopy(std::string_view name) {
  for (ZeroCopy z : {ZeroCopy::kBest, ZeroCopy::kOff, ZeroCopy::kAuto,
                     ZeroCopy::kExplicit})
    if (name == ZeroCopyName(z)) return z;
  return std::nullopt;
}

const char* RecoveryName(Recovery r) {
  switch (r) {
    case Recovery::kOff:
      return "off";
    case Recovery::kReissue:
      return "reissue";
    case Recovery::kFailIo:
      return "fail-io";
    case Recovery::kFailInflight:
      return "fail-inflight";
  }
  return "?";
}

std::optional<Recovery> ParseRecovery(std::string_view name) {
  for (Recovery r : {Recovery::kOff, Recovery::kReissue, Recovery::kFailIo,
                     Recovery::kFailInflight})
    if (name == RecoveryName(r)) return r;
  return std::nullopt;
}

json SpecToJson(const DeviceSpec& s) {
  json j = {{"type", s.type},   {"queues", s.queues}, {"depth", s.depth},
            {"name", s.name},   {"file", s.file},
            {"max_io_bytes", s.max_io_bytes},
            {"read_only", s.read_only},
            {"options", json::object()},
            {"zero_copy", ZeroCopyName(s.zero_copy)},
            {"recovery", RecoveryName(s.recovery)}};
  for (const auto& [name, value] : s.options.values())
    j["options"][name] = OptionToJson(value);
  if (s.id) j["id"] = *s.id;
  if (s.size) j["size"] = *s.size;
  if (s.testing != TestingOptions{}) j["testing"] = TestingToJson(s.testing);
  // Only when asked for, so a spec without them reads as before.
  if (s.user_copy) j["user_copy"] = true;
  if (s.need_get_data) j["need_get_data"] = true;
  if (s.shmem_zc) j["shmem_zc"] = true;
  if (s.no_partition_scan) j["no_partition_scan"] = true;
  if (s.batch != Batch::kBest) j["batch"] = s.batch == Batch::kOn ? "on" : "off";
  if (!s.metrics) j["metrics"] = false;
  if (!s.metrics_textfile.empty()) j["metrics_textfile"] = s.metrics_textfile;
  if (s.poll_us != 0) j["poll_us"] = s.poll_us;
  if (s.threads != 0) j["threads"] = s.threads;
  if (!s.cpus.empty()) j["cpus"] = s.cpus;
  if (!s.shmem_file.empty()) j["shmem_file"] = s.shmem_file;
  return j;
}

Result<DeviceSpec> SpecFromJson(const json& j) {
  if (!j.is_object()) return Invalid("device spec must be a JSON object");
  DeviceSpec s;
  uint64_t v = 0;
  UBLK_RETURN_IF_ERROR(GetString(j, "type", &s.type, true));
  const TargetType* type = FindTargetType(s.type);
  if (type == nullptr)
    return Invalid("field \"type\": unknown target type '" + s.type + "'");
  if (j.contains("id")) {
    UBLK_RETURN_IF_ERROR(GetUnsigned(j, "id", INT32_MAX, &v, true));
    s.id = static_cast<uint32_t>(v);
  }
  v = s.queues;
  UBLK_RETURN_IF_ERROR(GetUnsigned(j, "queues", abi::kMaxQueues, &v, false));
  s.queues = static_cast<uint16_t>(v);
  if (s.queues == 0) return Invalid("field \"queues\" must be at least 1");
  v = s.depth;
  UBLK_RETURN_IF_ERROR(GetUnsigned(j, "depth", abi::kMaxQueueDepth, &v, false));
  s.depth = static_cast<uint16_t>(v);
  if (s.depth == 0) return Invalid("field \"depth\" must be at least 1");
  UBLK_RETURN_IF_ERROR(GetString(j, "name", &s.name, false));
  UBLK_RETURN_IF_ERROR(GetString(j, "file", &s.file, false));
  if (j.contains("size")) {
    UBLK_RETURN_IF_ERROR(GetUnsigned(
        j, "size", std::numeric_limits<int64_t>::max(), &v, true));
    s.size = v;
  }
  v = s.max_io_bytes;
  UBLK_RETURN_IF_ERROR(GetUnsigned(j, "max_io_bytes", 32u << 20, &v, false));
  s.max_io_bytes = static_cast<uint32_t>(v);
  if (s.max_io_bytes < 4096 || s.max_io_bytes % 4096 != 0)
    return Invalid(
        "field \"max_io_bytes\" must be a multiple of 4096 from 4096");
  UBLK_RETURN_IF_ERROR(GetBool(j, "read_only", &s.read_only));
  auto options = OptionsFromJson(*type, j);
  if (!options) return options.error();
  s.options = std::move(*options);
  // Files written before -z existed describe copy-mode devices.
  std::string zc = ZeroCopyName(ZeroCopy::kOff);
  UBLK_RETURN_IF_ERROR(GetString(j, "zero_copy", &zc, false));
  auto mode = ParseZeroCopy(zc);
  if (!mode)
    return Invalid(
        "field \"zero_copy\" must be \"best\", \"off\", \"auto\" or "
        "\"explicit\"");
  s.zero_copy = *mode;
  // Files written before -r existed describe devices without recovery.
  std::string rec = RecoveryName(Recovery::kOff);
  UBLK_RETURN_IF_ERROR(GetString(j, "recovery", &rec, false));
  auto recovery = ParseRecovery(rec);
  if (!recovery)
    return Invalid(
        "field \"recovery\" must be \"off\", \"reissue\", \"fail-io\" or "
        "\"fail-inflight\"");
  s.recovery = *recovery;
  // Before targets declared their options, a spec said "off" or "auto" for
  // null too, which ignored it.
  if (!j.contains("options") && type->data_access == DataAccess::kNone)
    s.zero_copy = ZeroCopy::kBest;
  // Files written before these existed describe devices without them.
  UBLK_RETURN_IF_ERROR(GetBool(j, "user_copy", &s.user_copy));
  UBLK_RETURN_IF_ERROR(GetBool(j, "need_get_data", &s.need_get_data));
  UBLK_RETURN_IF_ERROR(GetBool(j, "shmem_zc", &s.shmem_zc));
  UBLK_RETURN_IF_ERROR(GetBool(j, "no_partition_scan", &s.no_partition_scan));
  std::string batch;
  UBLK_RETURN_IF_ERROR(GetString(j, "batch", &batch, false));
  if (batch == "on")
    s.batch = Batch::kOn;
  else if (batch == "off")
    s.batch = Batch::kOff;
  else if (!batch.empty())
    return Invalid("field \"batch\" must be \"on\" or \"off\"");
  UBLK_RETURN_IF_ERROR(GetBool(j, "metrics", &s.metrics));
  UBLK_RETURN_IF_ERROR(
      GetString(j, "metrics_textfile", &s.metrics_textfile, false));
  UBLK_RETURN_IF_ERROR(GetString(j, "shmem_file", &s.shmem_file, false));
  v = 0;
  UBLK_RETURN_IF_ERROR(GetUnsigned(j, "poll_us", kMaxPollUs, &v, false));
  s.poll_us = static_cast<uint32_t>(v);
  v = 0;
  UBLK_RETURN_IF_ERROR(GetUnsigned(j, "threads", kMaxThreads, &v, false));
  s.threads = static_cast<uint16_t>(v);
  if (auto it = j.find("cpus"); it != j.end()) {
    if (!it->is_array() || it->empty())
      return Invalid("field \"cpus\" must list CPU numbers");
    for (const json& c : *it) {
      if (!c.is_number_unsigned() || c.get<uint64_t>() >= kMaxCpu)
        return Invalid("field \"cpus\" must list CPU numbers");
      s.cpus.push_back(static_cast<uint16_t>(c.get<uint64_t>()));
    }
  }
  if (auto it = j.find("testing"); it != j.end()) {
    auto t = TestingFromJson(*it);
    if (!t) return t.error().Wrap("testing");
    s.testing = *t;
  }
  UBLK_RETURN_IF_ERROR(CheckSpecOptions(*type, s));
  return s;
}

namespace {

const char* BackingKindName(BackingIdentity::Kind k) {
  switch (k) {
    case BackingIdentity::Kind::kFile:
      return "file";
    case BackingIdentity::Kind::kBlock:
      return "block";
    case BackingIdentity::Kind::kChar:
      return "char";
  }
  return "?";
}

json BackingToJson(const BackingIdentity& b) {
  return {{"kind", BackingKindName(b.kind)},
          {"dev", b.dev},
          {"ino", b.ino},
          {"rdev", b.rdev},
          {"size", b.size}};
}

Result<BackingIdentity> BackingFromJson(const json& j) {
  if (!j.is_object()) return Invalid("field \"backing\" must be an object");
  BackingIdentity b;
  std::string kind;
  UBLK_RETURN_IF_ERROR(GetString(j, "kind", &kind, true));
  bool known = false;
  for (auto k : {BackingIdentity::Kind::kFile, BackingIdentity::Kind::kBlock,
                 BackingIdentity::Kind::kChar})
    if (kind == BackingKindName(k)) b.kind = k, known = true;
  if (!known)
    return Invalid("field \"kind\" must be \"file\", \"block\" or \"char\"");
  constexpr uint64_t kAny = std::numeric_limits<uint64_t>::max();
  UBLK_RETURN_IF_ERROR(GetUnsigned(j, "dev", kAny, &b.dev, true));
  UBLK_RETURN_IF_ERROR(GetUnsigned(j, "ino", kAny, &b.ino, true));
  UBLK_RETURN_IF_ERROR(GetUnsigned(j, "rdev", kAny, &b.rdev, true));
  UBLK_RETURN_IF_ERROR(GetUnsigned(
      j, "size", std::numeric_limits<int64_t>::max(), &b.size, true));
  return b;
}

}  // namespace

json StateToJson(const DeviceState& st) {
  json j = {{"spec", SpecToJson(st.spec)},
            {"dev_id", st.dev_id},
            {"pid", st.pid},
            {"flags", st.flags},
            {"data_path", st.data_path},
            {"queues", st.queues},
            {"depth", st.depth},
            {"size", st.size_bytes}};
  if (st.backing) j["backing"] = BackingToJson(*st.backing);
  if (!st.queue_tids.empty()) j["queue_tids"] = st.queue_tids;
  if (st.zone_capacity_bytes != 0) j["zone_capacity"] = st.zone_capacity_bytes;
  if (!st.connection.empty()) j["connection"] = st.connection;
  return j;
}

Result<DeviceState> StateFromJson(const json& j) {
  if (!j.is_object()) return Invalid("state must be a JSON object");
  DeviceState st;
  auto spec_it = j.find("spec");
  if (spec_it == j.end()) return Invalid("missing field \"spec\"");
  auto spec = SpecFromJson(*spec_it);
  if (!spec) return spec.error().Wrap("spec");
  st.spec = std::move(*spec);
  uint64_t v = 0;
  UBLK_RETURN_IF_ERROR(GetUnsigned(j, "dev_id", INT32_MAX, &v, true));
  st.dev_id = static_cast<uint32_t>(v);
  UBLK_RETURN_IF_ERROR(GetUnsigned(j, "pid", INT32_MAX, &v, true));
  st.pid = static_cast<pid_t>(v);
  UBLK_RETURN_IF_ERROR(
      GetUnsigned(j, "flags", std::numeric_limits<uint64_t>::max(), &st.flags,
                  true));
  UBLK_RETURN_IF_ERROR(GetString(j, "data_path", &st.data_path, true));
  UBLK_RETURN_IF_ERROR(GetUnsigned(j, "queues", abi::kMaxQueues, &v, true));
  st.queues = static_cast<uint16_t>(v);
  UBLK_RETURN_IF_ERROR(GetUnsigned(j, "depth", abi::kMaxQueueDepth, &v, true));
  st.depth = static_cast<uint16_t>(v);
  UBLK_RETURN_IF_ERROR(GetUnsigned(
      j, "size", std::numeric_limits<int64_t>::max(), &st.size_bytes, true));
  UBLK_RETURN_IF_ERROR(GetUnsigned(j, "zone_capacity",
                                   std::numeric_limits<int64_t>::max(),
                                   &st.zone_capacity_bytes, false));
  UBLK_RETURN_IF_ERROR(GetString(j, "connection", &st.connection, false));
  if (st.spec.id && *st.spec.id != st.dev_id)
    return Invalid("field \"dev_id\" " + std::to_string(st.dev_id) +
                   " does not match the spec's id " +
                   std::to_string(*st.spec.id));
  if (st.pid <= 0) return Invalid("field \"pid\" must be a process id");
  if (st.queues == 0 || st.depth == 0)
    return Invalid("fields \"queues\" and \"depth\" must be at least 1");
  if (!IsDataPathName(st.data_path))
    return Invalid("field \"data_path\" '" + st.data_path +
                   "' is not a data path");
  if (auto it = j.find("queue_tids"); it != j.end()) {
    // One per server thread: queue q's threads are q, q + queues, ...
    if (!it->is_array() || it->size() < st.queues)
      return Invalid("field \"queue_tids\" must list every server thread");
    for (const json& t : *it) {
      if (!t.is_number_unsigned() || t.get<uint64_t>() > INT32_MAX)
        return Invalid("field \"queue_tids\" must hold thread ids");
      st.queue_tids.push_back(static_cast<pid_t>(t.get<uint64_t>()));
    }
  }
  if (auto it = j.find("backing"); it != j.end()) {
    auto b = BackingFromJson(*it);
    if (!b) return b.error().Wrap("backing");
    st.backing = *b;
  }
  return st;
}

Result<json> ParseJson(std::string_view text, const std::string& what) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded())
    return Invalid(what + ": not valid JSON (corrupt or truncated)");
  return j;
}

}  // namespace ublk

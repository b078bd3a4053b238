#include "report.h"

#include <cstdio>

#include "json_fields.h"
#include "listing.h"
#include "size.h"
#include "spec_json.h"
#include "ublk/abi.h"

namespace ublk {
namespace {

Result<ServerReport> FromJson(const nlohmann::json& j) {
  ServerReport r;
  uint64_t v = 0;
  UBLK_RETURN_IF_ERROR(GetUnsigned(j, "dev_id", INT32_MAX, &v, true));
  r.dev_id = static_cast<uint32_t>(v);
  UBLK_RETURN_IF_ERROR(GetString(j, "block", &r.block, true));
  UBLK_RETURN_IF_ERROR(GetString(j, "type", &r.type, true));
  UBLK_RETURN_IF_ERROR(GetUnsigned(j, "size", UINT64_MAX, &r.size, true));
  UBLK_RETURN_IF_ERROR(GetUnsigned(j, "queues", abi::kMaxQueues, &v, true));
  r.queues = static_cast<uint16_t>(v);
  UBLK_RETURN_IF_ERROR(GetUnsigned(j, "depth", abi::kMaxQueueDepth, &v, true));
  r.depth = static_cast<uint16_t>(v);
  UBLK_RETURN_IF_ERROR(
      GetUnsigned(j, "max_io_bytes", UINT32_MAX, &r.max_io_bytes, true));
  UBLK_RETURN_IF_ERROR(GetString(j, "data_path", &r.data_path, true));
  UBLK_RETURN_IF_ERROR(GetString(j, "recovery", &r.recovery, false));
  UBLK_RETURN_IF_ERROR(GetStrings(j, "features", &r.features, true));
  UBLK_RETURN_IF_ERROR(GetBool(j, "recovered", &r.recovered));
  UBLK_RETURN_IF_ERROR(GetStrings(j, "notes", &r.notes, false));
  UBLK_RETURN_IF_ERROR(GetUnsigned(j, "pid", INT32_MAX, &v, true));
  r.pid = static_cast<int>(v);
  r.json = j;
  r.json.erase("ok");
  return r;
}

}  // namespace

Result<ServerReport> ParseServerReport(const std::string& line) {
  if (line.empty())
    return Invalid("the server exited before the device was live (see syslog)");
  auto j = ParseJson(line, "the server's report");
  if (!j) return j.error();
  bool ok = false;
  if (auto r = GetBool(*j, "ok", &ok, true); !r)
    return r.error().Wrap("the server's report");
  if (!ok) {
    std::string error = "the server failed";
    (void)GetString(*j, "error", &error, false);
    return Invalid(error);
  }
  auto report = FromJson(*j);
  if (!report) return report.error().Wrap("the server's report");
  return report;
}

void PrintReport(const ServerReport& r, bool json) {
  for (const std::string& note : r.notes)
    std::fprintf(stderr, "ublk: %s\n", note.c_str());
  if (json) {
    std::printf("%s\n", DumpJson(r.json, 2).c_str());
    std::fflush(stdout);
    return;
  }
  // The device as `list` shows it, as the reference server's add prints
  // it, then one line saying it is live; the summary below only when the
  // device cannot be read back.
  if (PrintDeviceById(r.dev_id)) {
    std::printf("dev %u: %s live%s\n", r.dev_id, r.block.c_str(),
                r.recovered ? " again (recovered)" : "");
    std::fflush(stdout);
    return;
  }
  std::string features;
  for (const auto& f : r.features) features += (features.empty() ? "" : " ") + f;
  std::printf("dev %u: %s live%s\n", r.dev_id, r.block.c_str(),
              r.recovered ? " again (recovered)" : "");
  std::printf("  type %s, %s, %u queue(s) x depth %u, max I/O %s, server pid %d\n",
              r.type.c_str(), FormatSize(r.size).c_str(), r.queues, r.depth,
              FormatSize(r.max_io_bytes).c_str(), r.pid);
  std::printf("  data path: %s%s\n", r.data_path.c_str(),
              r.json.value("batch", false) ? ", batch commands" : "");
  std::printf("  recovery: %s\n", r.recovery.c_str());
  std::printf("  features: %s\n", features.c_str());
  std::fflush(stdout);
}

}  // namespace ublk

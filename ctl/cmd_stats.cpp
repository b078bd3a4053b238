// ublk stats: a device's live counters, read from its metrics file while
// the server runs: once, every few seconds (--watch, like iostat), as JSON
// or in the Prometheus text format.
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "control_device.h"
#include "metrics_file.h"
#include "recovery.h"
#include "state_file.h"
#include "metrics_sample.h"

namespace ublk {
namespace {

using nlohmann::json;

constexpr double kPercentiles[] = {0.50, 0.99, 0.999};
constexpr const char* kPercentileNames[] = {"p50", "p99", "p999"};

Result<DeviceSample> Sample(uint32_t id) {
  UBLK_RETURN_IF_ERROR(CheckMayManage(id, "read the counters of"));
  auto view = MetricsView::Open(DeviceStateDir(id), id, DeviceOwner(id));
  if (!view) {
    if (view.error().code().value() == ENOENT)
      return Invalid("device " + std::to_string(id) +
                     " has no metrics (its server runs with --metrics=off, "
                     "or is not running)");
    return view.error();
  }
  // A recovery device keeps its dead server's file until `ublk recover`:
  // those counts are not live.
  if (!ServerAlive(view->header().pid))
    return Invalid("device " + std::to_string(id) + ": its server (pid " +
                   std::to_string(view->header().pid) +
                   ") is not running; no live metrics until 'ublk recover -n " +
                   std::to_string(id) + "'");
  return TakeSample(view->header(), view->blocks());
}

// The devices asked for: the one named, or every one with a metrics file.
Result<std::vector<uint32_t>> Devices(const StatsCommand& cmd) {
  if (cmd.id || !cmd.name.empty()) {
    auto id = ResolveDevice(cmd.id, cmd.name);
    if (!id) return id.error();
    return std::vector<uint32_t>{*id};
  }
  std::vector<uint32_t> ids;
  for (uint32_t id : ListDeviceIds())
    if (IsMine(id) &&
        ::access(MetricsPath(DeviceStateDir(id), id).c_str(), F_OK) == 0)
      ids.push_back(id);
  return ids;
}

double Seconds(const DeviceSample& s) {
  const double ns = static_cast<double>(s.taken_ns - s.started_ns);
  return ns > 0 ? ns / 1e9 : 1e-9;
}

uint64_t Requests(const QueueSample& q) {
  uint64_t n = 0;
  for (const OpSample& op : q.ops) n += op.requests;
  return n;
}
uint64_t Bytes(const QueueSample& q) {
  uint64_t n = 0;
  for (const OpSample& op : q.ops) n += op.bytes;
  return n;
}
uint64_t Errors(const QueueSample& q) {
  uint64_t n = 0;
  for (const OpSample& op : q.ops) n += op.errors;
  return n;
}

json OpsJson(const QueueSample& q, double secs) {
  json ops = json::object();
  for (unsigned o = 0; o < metrics::kOpCount; ++o) {
    const OpSample& op = q.ops[o];
    if (op.requests == 0) continue;
    json lat = json::object();
    for (size_t p = 0; p < std::size(kPercentiles); ++p)
      lat[kPercentileNames[p]] = PercentileUs(op.buckets, kPercentiles[p]);
    ops[std::string(metrics::kOpNames[o])] = {
        {"requests", op.requests},
        {"bytes", op.bytes},
        {"errors", op.errors},
        {"iops", static_cast<double>(op.requests) / secs},
        {"bytes_per_s", static_cast<double>(op.bytes) / secs},
        {"latency_sum_ns", op.latency_ns},
        {"latency_us", lat}};
  }
  return ops;
}

json QueueJson(const QueueSample& q, double secs) {
  return {{"requests", Requests(q)},
          {"bytes", Bytes(q)},
          {"errors", Errors(q)},
          {"in_flight", q.in_flight()},
          {"iops", static_cast<double>(Requests(q)) / secs},
          {"bytes_per_s", static_cast<double>(Bytes(q)) / secs},
          {"ops", OpsJson(q, secs)}};
}

json DeviceJson(const DeviceSample& s) {
  const double secs = Seconds(s);
  json queues = json::array();
  for (size_t q = 0; q < s.queues.size(); ++q) {
    json j = QueueJson(s.queues[q], secs);
    j["queue"] = q;
    queues.push_back(std::move(j));
  }
  const QueueSample total = Total(s);
  json errnos = json::object();
  for (unsigned e = 0; e < metrics::kErrnoSlots; ++e)
    if (total.errnos[e] != 0) errnos[ErrnoName(e)] = total.errnos[e];
  return {{"dev_id", s.dev_id},       {"name", s.name},
          {"pid", s.pid},             {"interval_s", secs},
          {"queues", queues},         {"total", QueueJson(total, secs)},
          {"errors_by_errno", errnos}};
}

void PrintText(const DeviceSample& s) {
  const double secs = Seconds(s);
  std::printf("dev %u%s%s%s: server pid %d, %zu queue%s, over %.1f s\n",
              s.dev_id, s.name.empty() ? "" : " (", s.name.c_str(),
              s.name.empty() ? "" : ")", s.pid, s.queues.size(),
              s.queues.size() == 1 ? "" : "s", secs);
  std::printf("%-6s %12s %10s %10s %9s %9s\n", "queue", "requests", "IOPS",
              "MB/s", "in-flight", "errors");
  auto queue_line = [&](const std::string& label, const QueueSample& q) {
    std::printf("%-6s %12llu %10.1f %10.2f %9llu %9llu\n", label.c_str(),
                static_cast<unsigned long long>(Requests(q)),
                static_cast<double>(Requests(q)) / secs,
                static_cast<double>(Bytes(q)) / secs / 1e6,
                static_cast<unsigned long long>(q.in_flight()),
                static_cast<unsigned long long>(Errors(q)));
  };
  for (size_t q = 0; q < s.queues.size(); ++q)
    queue_line(std::to_string(q), s.queues[q]);
  const QueueSample total = Total(s);
  if (s.queues.size() > 1) queue_line("total", total);
  std::printf("%-13s %12s %10s %10s %9s %9s %9s %9s\n", "op", "requests",
              "IOPS", "MB/s", "errors", "p50(us)", "p99(us)", "p999(us)");
  for (unsigned o = 0; o < metrics::kOpCount; ++o) {
    const OpSample& op = total.ops[o];
    if (op.requests == 0) continue;
    std::printf("%-13s %12llu %10.1f %10.2f %9llu %9.1f %9.1f %9.1f\n",
                std::string(metrics::kOpNames[o]).c_str(),
                static_cast<unsigned long long>(op.requests),
                static_cast<double>(op.requests) / secs,
                static_cast<double>(op.bytes) / secs / 1e6,
                static_cast<unsigned long long>(op.errors),
                PercentileUs(op.buckets, 0.50), PercentileUs(op.buckets, 0.99),
                PercentileUs(op.buckets, 0.999));
  }
  std::string errnos;
  for (unsigned e = 0; e < metrics::kErrnoSlots; ++e)
    if (total.errnos[e] != 0)
      errnos += " " + ErrnoName(e) + " " + std::to_string(total.errnos[e]);
  if (!errnos.empty()) std::printf("errors:%s\n", errnos.c_str());
  std::printf("\n");
}

void Print(const StatsCommand& cmd, const std::vector<DeviceSample>& samples) {
  if (cmd.json) {
    json out = json::array();
    for (const DeviceSample& s : samples) out.push_back(DeviceJson(s));
    // --watch: one line per report (JSON lines).
    std::printf("%s\n", cmd.watch_s != 0 ? out.dump().c_str()
                                         : out.dump(2).c_str());
  } else {
    for (const DeviceSample& s : samples) PrintText(s);
  }
  std::fflush(stdout);
}

}  // namespace

int RunStats(const StatsCommand& cmd) {
  auto ids = Devices(cmd);
  if (!ids) return Fail(ids.error().message());
  std::vector<DeviceSample> samples;
  for (uint32_t id : *ids) {
    auto s = Sample(id);
    if (!s) return Fail(s.error().message());
    samples.push_back(std::move(*s));
  }
  if (cmd.prometheus) {
    std::fputs(PrometheusText(samples).c_str(), stdout);
    return 0;
  }
  // The first report covers the time since each server started; with
  // --watch every later one the interval since the one before.
  Print(cmd, samples);
  while (cmd.watch_s != 0) {
    timespec ts{static_cast<time_t>(cmd.watch_s), 0};
    while (::nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
    std::vector<DeviceSample> deltas;
    for (DeviceSample& before : samples) {
      auto now = Sample(before.dev_id);
      if (!now) return Fail(now.error().message());
      deltas.push_back(Delta(*now, before));
      before = std::move(*now);
    }
    Print(cmd, deltas);
  }
  return 0;
}

}  // namespace ublk

// The Prometheus text exposition format, version 0.0.4: for each metric
// family one # HELP and one # TYPE line, then all its samples together.
#include <cstdio>

#include "metrics_sample.h"

namespace ublk {
namespace {

std::string Escaped(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string Number(double v) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.9g", v);
  return text;
}

class Writer {
 public:
  void Family(const char* name, const char* type, const char* help) {
    out_ += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name +
            " " + type + "\n";
  }
  // `labels` is the inside of the braces, already escaped.
  void Sample(const std::string& name, const std::string& labels,
              const std::string& value) {
    out_ += name + "{" + labels + "} " + value + "\n";
  }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

std::string QueueLabels(const DeviceSample& d, size_t q) {
  return "device=\"" + std::to_string(d.dev_id) + "\",name=\"" +
         Escaped(d.name) + "\",queue=\"" + std::to_string(q) + "\"";
}

std::string OpLabels(const DeviceSample& d, size_t q, unsigned op) {
  return QueueLabels(d, q) + ",op=\"" + std::string(metrics::kOpNames[op]) +
         "\"";
}

// One sample per device, queue and op that has requests.
template <typename Value>
void PerOp(Writer& w, const std::vector<DeviceSample>& devices,
           const char* name, Value value) {
  for (const DeviceSample& d : devices)
    for (size_t q = 0; q < d.queues.size(); ++q)
      for (unsigned o = 0; o < metrics::kOpCount; ++o)
        if (d.queues[q].ops[o].requests != 0)
          w.Sample(name, OpLabels(d, q, o),
                   std::to_string(value(d.queues[q].ops[o])));
}

void Histogram(Writer& w, const std::vector<DeviceSample>& devices) {
  const std::string name = "ublk_request_duration_seconds";
  w.Family(name.c_str(), "histogram",
           "Time from a request's fetch to its commit, by operation.");
  for (const DeviceSample& d : devices)
    for (size_t q = 0; q < d.queues.size(); ++q)
      for (unsigned o = 0; o < metrics::kOpCount; ++o) {
        const OpSample& op = d.queues[q].ops[o];
        if (op.requests == 0) continue;
        const std::string labels = OpLabels(d, q, o);
        uint64_t cumulative = 0;
        for (unsigned b = 0; b < metrics::kBuckets; ++b) {
          cumulative += op.buckets[b];
          const std::string le =
              b + 1 < metrics::kBuckets
                  ? Number(static_cast<double>(metrics::BucketUpperNs(b)) / 1e9)
                  : "+Inf";
          w.Sample(name + "_bucket", labels + ",le=\"" + le + "\"",
                   std::to_string(cumulative));
        }
        w.Sample(name + "_sum", labels,
                 Number(static_cast<double>(op.latency_ns) / 1e9));
        w.Sample(name + "_count", labels, std::to_string(cumulative));
      }
}

}  // namespace

std::string PrometheusText(const std::vector<DeviceSample>& devices) {
  Writer w;
  w.Family("ublk_requests_total", "counter",
           "Requests the server completed, failed ones included.");
  PerOp(w, devices, "ublk_requests_total",
        [](const OpSample& s) { return s.requests; });
  w.Family("ublk_bytes_total", "counter",
           "Bytes of the requests that succeeded.");
  PerOp(w, devices, "ublk_bytes_total",
        [](const OpSample& s) { return s.bytes; });
  w.Family("ublk_request_errors_total", "counter",
           "Requests completed with an error.");
  PerOp(w, devices, "ublk_request_errors_total",
        [](const OpSample& s) { return s.errors; });
  w.Family("ublk_errors_total", "counter",
           "Requests completed with an error, by errno.");
  for (const DeviceSample& d : devices)
    for (size_t q = 0; q < d.queues.size(); ++q)
      for (unsigned e = 0; e < metrics::kErrnoSlots; ++e)
        if (d.queues[q].errnos[e] != 0)
          w.Sample("ublk_errors_total",
                   QueueLabels(d, q) + ",errno=\"" + ErrnoName(e) + "\"",
                   std::to_string(d.queues[q].errnos[e]));
  w.Family("ublk_in_flight_requests", "gauge",
           "Requests the server holds now.");
  for (const DeviceSample& d : devices)
    for (size_t q = 0; q < d.queues.size(); ++q)
      w.Sample("ublk_in_flight_requests", QueueLabels(d, q),
               std::to_string(d.queues[q].in_flight()));
  Histogram(w, devices);
  return w.Take();
}

}  // namespace ublk

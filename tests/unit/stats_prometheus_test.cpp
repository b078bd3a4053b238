// `ublk stats --prometheus`: the text checked against the exposition
// format's grammar (version 0.0.4) by a small validator written here from
// the format's description, not by string comparison.
#include <gtest/gtest.h>

#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "metrics_sample.h"

namespace ublk {
namespace {

struct Parsed {
  std::string name;
  std::map<std::string, std::string> labels;
  std::string value;
};

// One sample line, or an error naming what is wrong with it.
std::string ParseSample(const std::string& line, Parsed* out) {
  static const std::regex name_re("^[a-zA-Z_:][a-zA-Z0-9_:]*");
  static const std::regex label_re("^[a-zA-Z_][a-zA-Z0-9_]*");
  static const std::regex value_re(
      "^([+-]?([0-9]+(\\.[0-9]*)?|\\.[0-9]+)([eE][+-]?[0-9]+)?|[+-]Inf|NaN)"
      "( -?[0-9]+)?$");
  std::smatch m;
  std::string rest = line;
  if (!std::regex_search(rest, m, name_re)) return "bad metric name: " + line;
  out->name = m.str();
  rest = m.suffix();
  if (!rest.empty() && rest[0] == '{') {
    size_t i = 1;
    while (i < rest.size() && rest[i] != '}') {
      std::string tail = rest.substr(i);
      if (!std::regex_search(tail, m, label_re)) return "bad label name: " + line;
      const std::string label = m.str();
      i += label.size();
      if (rest.compare(i, 2, "=\"") != 0) return "label without =\": " + line;
      i += 2;
      std::string value;
      for (; i < rest.size() && rest[i] != '"'; ++i) {
        if (rest[i] == '\n') return "newline in a label value";
        if (rest[i] == '\\') {
          ++i;
          if (i >= rest.size() || (rest[i] != '\\' && rest[i] != '"' && rest[i] != 'n'))
            return "bad escape in a label value: " + line;
        }
        value += rest[i];
      }
      if (i >= rest.size()) return "unterminated label value: " + line;
      ++i;  // the closing quote
      if (!out->labels.emplace(label, value).second)
        return "label " + label + " twice: " + line;
      if (i < rest.size() && rest[i] == ',') ++i;
    }
    if (i >= rest.size()) return "no closing brace: " + line;
    rest = rest.substr(i + 1);
  }
  if (rest.empty() || rest[0] != ' ') return "no space before the value: " + line;
  out->value = rest.substr(1);
  if (!std::regex_match(out->value, value_re)) return "bad value: " + line;
  return "";
}

// The whole text: grammar, families (TYPE before samples, samples of a
// family together, counters named _total) and histograms (buckets with
// increasing le and cumulative counts ending in +Inf, which equals
// _count, and a _sum). "" when valid.
std::string Validate(const std::string& text) {
  if (!text.empty() && text.back() != '\n') return "no final newline";
  std::map<std::string, std::string> types;
  std::set<std::string> helped, finished_families;
  std::string current;  // the family whose samples are being read
  struct Series {
    double last_le = -1;
    double last_count = -1;
    bool inf = false;
    double inf_count = 0;
    bool sum = false, count = false;
    double count_value = 0;
  };
  std::map<std::string, Series> series;  // histogram family + labels sans le
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    if (line[0] == '#') {
      std::istringstream words(line);
      std::string hash, kind, name, type;
      words >> hash >> kind >> name;
      if (kind == "HELP") {
        if (!helped.insert(name).second) return "second HELP for " + name;
      } else if (kind == "TYPE") {
        words >> type;
        static const std::set<std::string> kinds = {
            "counter", "gauge", "histogram", "summary", "untyped"};
        if (!kinds.count(type)) return "bad type: " + line;
        if (!types.emplace(name, type).second) return "second TYPE for " + name;
        if (finished_families.count(name) || name == current)
          return "TYPE after samples of " + name;
      }
      continue;
    }
    Parsed p;
    if (std::string e = ParseSample(line, &p); !e.empty()) return e;
    std::string family = p.name;
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      const std::string s = suffix;
      if (p.name.size() > s.size() &&
          p.name.compare(p.name.size() - s.size(), s.size(), s) == 0) {
        std::string base = p.name.substr(0, p.name.size() - s.size());
        if (types.count(base) && types[base] == "histogram") family = base;
      }
    }
    if (!types.count(family)) return "sample before its TYPE: " + line;
    if (family != current) {
      if (finished_families.count(family)) return "family split: " + family;
      if (!current.empty()) finished_families.insert(current);
      current = family;
    }
    const std::string& type = types[family];
    if (type == "counter" &&
        (family.size() < 6 || family.compare(family.size() - 6, 6, "_total") != 0))
      return "counter not named _total: " + family;
    if (type != "histogram") continue;
    auto labels = p.labels;
    const std::string le = labels.count("le") ? labels["le"] : "";
    labels.erase("le");
    std::string key = family;
    for (auto& [k, v] : labels) key += "," + k + "=" + v;
    Series& s = series[key];
    const double v = std::stod(p.value);
    if (p.name == family + "_bucket") {
      if (le.empty()) return "bucket without le: " + line;
      if (s.inf) return "bucket after +Inf: " + line;
      if (le == "+Inf") {
        s.inf = true;
        s.inf_count = v;
      } else {
        const double bound = std::stod(le);
        if (bound <= s.last_le) return "le not increasing: " + line;
        s.last_le = bound;
      }
      if (v < s.last_count) return "buckets not cumulative: " + line;
      s.last_count = v;
    } else if (p.name == family + "_sum") {
      s.sum = true;
    } else if (p.name == family + "_count") {
      s.count = true;
      s.count_value = v;
    } else {
      return "histogram sample of another name: " + line;
    }
  }
  for (auto& [key, s] : series) {
    if (!s.inf) return "no +Inf bucket: " + key;
    if (!s.sum || !s.count) return "no _sum or _count: " + key;
    if (s.inf_count != s.count_value) return "+Inf bucket != _count: " + key;
  }
  return "";
}

TEST(PrometheusValidator, CatchesWhatItShould) {
  EXPECT_EQ(Validate("# TYPE a_total counter\na_total 1\n"), "");
  EXPECT_NE(Validate("a_total 1\n"), "");  // no TYPE
  EXPECT_NE(Validate("# TYPE a counter\na 1\n"), "");  // not _total
  EXPECT_NE(Validate("# TYPE a_total counter\na_total{x=\"1} 1\n"), "");
  EXPECT_NE(Validate("# TYPE a_total counter\na_total{1x=\"1\"} 1\n"), "");
  EXPECT_NE(Validate("# TYPE a_total counter\na_total one\n"), "");
  const std::string h = "# TYPE h histogram\n";
  EXPECT_EQ(Validate(h + "h_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\n"
                         "h_sum 3\nh_count 2\n"),
            "");
  EXPECT_NE(Validate(h + "h_bucket{le=\"1\"} 3\nh_bucket{le=\"+Inf\"} 2\n"
                         "h_sum 3\nh_count 2\n"),
            "");  // not cumulative
  EXPECT_NE(Validate(h + "h_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\n"
                         "h_sum 3\nh_count 3\n"),
            "");  // +Inf != _count
  EXPECT_NE(Validate(h + "h_bucket{le=\"1\"} 1\nh_sum 3\nh_count 1\n"), "");
}

DeviceSample Busy() {
  DeviceSample d;
  d.dev_id = 3;
  d.name = "odd \"name\" \\ with\nnewline";
  d.queues.resize(2);
  for (auto& q : d.queues) {
    q.started = 9;
    q.finished = 7;
  }
  OpSample& r = d.queues[0].ops[metrics::kRead];
  r.requests = 7;
  r.bytes = 7 * 4096;
  r.latency_ns = 12345;
  r.buckets = {};
  r.buckets[0] = 4;
  r.buckets[3] = 2;
  r.buckets[metrics::kBuckets - 1] = 1;
  OpSample& w = d.queues[1].ops[metrics::kWrite];
  w.requests = 3;
  w.errors = 1;
  w.buckets[5] = 3;
  d.queues[1].errnos[ENOSPC] = 1;
  return d;
}

TEST(PrometheusText, PassesTheGrammarAndHistogramChecks) {
  DeviceSample other = Busy();
  other.dev_id = 4;
  other.name = "plain";
  const std::string text = PrometheusText({Busy(), other});
  EXPECT_EQ(Validate(text), "") << text;
}

TEST(PrometheusText, HistogramCountEqualsTheRequestCounter) {
  const std::string text = PrometheusText({Busy()});
  const std::string labels =
      "{device=\"3\",name=\"odd \\\"name\\\" \\\\ with\\nnewline\",queue=\"0\","
      "op=\"read\"";
  EXPECT_NE(text.find("ublk_requests_total" + labels + "} 7\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("ublk_request_duration_seconds_count" + labels + "} 7\n"),
            std::string::npos);
  EXPECT_NE(text.find("ublk_request_duration_seconds_bucket" + labels +
                      ",le=\"+Inf\"} 7\n"),
            std::string::npos);
  EXPECT_NE(text.find("ublk_request_duration_seconds_bucket" + labels +
                      ",le=\"1e-06\"} 4\n"),
            std::string::npos);
  EXPECT_NE(text.find("ublk_errors_total{device=\"3\""), std::string::npos);
  EXPECT_NE(text.find("errno=\"ENOSPC\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("ublk_in_flight_requests{device=\"3\""), std::string::npos);
}

TEST(PrometheusText, NoDevicesIsStillValid) {
  EXPECT_EQ(Validate(PrometheusText({})), "");
}

}  // namespace
}  // namespace ublk

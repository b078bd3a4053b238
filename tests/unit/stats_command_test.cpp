// `ublk stats` and `add --metrics`: what their command lines take.
#include <gtest/gtest.h>

#include "options.h"
#include "spec_json.h"

namespace ublk {
namespace {

std::string ErrorOf(std::vector<std::string> args) {
  auto r = ParseCommandLine(args);
  return r.ok() ? "" : r.error().message();
}

TEST(StatsCommand, TakesADeviceOrNone) {
  auto r = ParseCommandLine({"stats"});
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_FALSE(std::get<StatsCommand>(*r).id.has_value());
  r = ParseCommandLine({"stats", "-n", "2", "--json", "--watch", "5"});
  ASSERT_TRUE(r.ok()) << r.error().message();
  const auto& cmd = std::get<StatsCommand>(*r);
  EXPECT_EQ(cmd.id, 2u);
  EXPECT_TRUE(cmd.json);
  EXPECT_EQ(cmd.watch_s, 5u);
  r = ParseCommandLine({"stats", "--name", "data", "--prometheus"});
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_TRUE(std::get<StatsCommand>(*r).prometheus);
}

TEST(StatsCommand, RefusesWhatDoesNotGoTogether) {
  EXPECT_EQ(ErrorOf({"stats", "-n", "1", "--name", "x"}),
            "stats: give exactly one of -n ID or --name NAME");
  EXPECT_EQ(ErrorOf({"stats", "--json", "--prometheus"}),
            "stats: give --json or --prometheus, not both");
  EXPECT_EQ(ErrorOf({"stats", "--prometheus", "--watch", "1"}),
            "stats: --watch does not go with --prometheus (Prometheus scrapes "
            "when it wants)");
  EXPECT_NE(ErrorOf({"stats", "--watch", "0"}), "");
  EXPECT_NE(ErrorOf({"stats", "--bogus"}), "");
  EXPECT_NE(HelpText("stats").find("--prometheus"), std::string::npos);
}

TEST(AddMetrics, IsOnUnlessTurnedOffAndSurvivesTheStateFile) {
  auto r = ParseCommandLine({"add", "-t", "null"});
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_TRUE(std::get<AddCommand>(*r).spec.metrics);
  r = ParseCommandLine({"add", "-t", "null", "--metrics=off"});
  ASSERT_TRUE(r.ok()) << r.error().message();
  const DeviceSpec spec = std::get<AddCommand>(*r).spec;
  EXPECT_FALSE(spec.metrics);
  auto back = SpecFromJson(SpecToJson(spec));
  ASSERT_TRUE(back.ok()) << back.error().message();
  EXPECT_EQ(*back, spec);
  EXPECT_EQ(ErrorOf({"add", "-t", "null", "--metrics", "maybe"}),
            "--metrics maybe: must be on or off");
}

TEST(AddMetricsFile, TakesAnAbsolutePathAndSurvivesTheStateFile) {
  auto r = ParseCommandLine({"add", "-t", "null", "--metrics-file",
                             "/var/lib/node_exporter/ublk.prom"});
  ASSERT_TRUE(r.ok()) << r.error().message();
  const DeviceSpec spec = std::get<AddCommand>(*r).spec;
  EXPECT_EQ(spec.metrics_textfile, "/var/lib/node_exporter/ublk.prom");
  auto back = SpecFromJson(SpecToJson(spec));
  ASSERT_TRUE(back.ok()) << back.error().message();
  EXPECT_EQ(*back, spec);
  EXPECT_EQ(ErrorOf({"add", "-t", "null", "--metrics-file", "u.prom"}),
            "--metrics-file u.prom: must be an absolute path");
  EXPECT_EQ(ErrorOf({"add", "-t", "null", "--metrics-file", "/u.prom",
                     "--metrics=off"}),
            "--metrics-file: not with --metrics=off");
}

}  // namespace
}  // namespace ublk

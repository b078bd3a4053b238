// restart and resize: what their command lines take.
#include <gtest/gtest.h>

#include "options.h"

namespace ublk {
namespace {

std::string ErrorOf(std::vector<std::string> args) {
  auto r = ParseCommandLine(args);
  return r.ok() ? "" : r.error().message();
}

TEST(RestartCommand, TakesAnIdOrAName) {
  auto r = ParseCommandLine({"restart", "-n", "3"});
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(std::get<RestartCommand>(*r).id, 3u);
  r = ParseCommandLine({"restart", "--name", "data"});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(std::get<RestartCommand>(*r).name, "data");
  EXPECT_EQ(ErrorOf({"restart"}),
            "restart: give exactly one of -n ID or --name NAME");
  EXPECT_EQ(ErrorOf({"restart", "-n", "1", "--name", "x"}),
            "restart: give exactly one of -n ID or --name NAME");
}

TEST(ResizeCommand, NeedsASizeInWholeSectors) {
  auto r = ParseCommandLine({"resize", "--name", "data", "--size", "2G"});
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(std::get<ResizeCommand>(*r).size, uint64_t{2} << 30);
  EXPECT_EQ(ErrorOf({"resize", "-n", "0"}), "resize: --size SIZE is required");
  EXPECT_EQ(ErrorOf({"resize", "-n", "0", "--size", "1000"}),
            "--size 1000: must be a positive multiple of 512 bytes");
}

TEST(ServiceCommands, HaveHelpAndAreListed) {
  EXPECT_NE(HelpText("restart").find("QUIESCE_DEV"), std::string::npos);
  EXPECT_NE(HelpText("resize").find("UPDATE_SIZE"), std::string::npos);
  EXPECT_NE(HelpText("").find("restart"), std::string::npos);
  auto names = CommandNames();
  EXPECT_NE(std::find(names.begin(), names.end(), "resize"), names.end());
}

}  // namespace
}  // namespace ublk

// Specs and state files survive a round trip; bad ones are named, not crashed on.
#include "spec_json.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include "state_file.h"

namespace ublk {
namespace {

DeviceSpec Sample() {
  DeviceSpec s;
  s.type = "null";
  s.id = 4;
  s.queues = 2;
  s.depth = 256;
  s.name = "scratch";
  s.size = 1ULL << 30;
  return s;
}

TEST(SpecJson, RoundTripsAFullSpec) {
  auto back = SpecFromJson(SpecToJson(Sample()));
  ASSERT_TRUE(back.ok()) << back.error().message();
  EXPECT_EQ(*back, Sample());
}

TEST(SpecJson, RoundTripsAMinimalSpec) {
  DeviceSpec s;
  s.type = "null";
  auto back = SpecFromJson(SpecToJson(s));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, s);
  EXPECT_FALSE(back->id.has_value());
}

TEST(SpecJson, RoundTripsLoopOptions) {
  DeviceSpec s = Sample();
  s.type = "loop";
  s.file = "/var/lib/disk.img";
  s.offset = 1 << 20;
  s.logical_block_size = 4096;
  s.buffered = true;
  s.read_only = true;
  s.zero_copy = ZeroCopy::kExplicit;
  auto back = SpecFromJson(SpecToJson(s));
  ASSERT_TRUE(back.ok()) << back.error().message();
  EXPECT_EQ(*back, s);
  auto j = SpecToJson(s);
  j["buffered"] = "yes";
  EXPECT_NE(SpecFromJson(j).error().message().find("\"buffered\""),
            std::string::npos);
  j = SpecToJson(s);
  j["logical_block_size"] = 65536;
  EXPECT_FALSE(SpecFromJson(j).ok());
  j = SpecToJson(s);
  j["zero_copy"] = "sometimes";
  EXPECT_NE(SpecFromJson(j).error().message().find("\"zero_copy\""),
            std::string::npos);
  // State files written before -z existed have no field: copy mode.
  j.erase("zero_copy");
  EXPECT_EQ(SpecFromJson(j)->zero_copy, ZeroCopy::kOff);
}

TEST(SpecJson, NamesTheBadField) {
  auto j = SpecToJson(Sample());
  j["queues"] = "two";
  auto r = SpecFromJson(j);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("\"queues\""), std::string::npos);
  j = SpecToJson(Sample());
  j["depth"] = 5000;
  EXPECT_FALSE(SpecFromJson(j).ok());
  j.erase("type");
  EXPECT_FALSE(SpecFromJson(j).ok());
  EXPECT_FALSE(SpecFromJson(nlohmann::json::array()).ok());
}

TEST(SpecJson, ParseJsonRejectsGarbageWithoutThrowing) {
  EXPECT_FALSE(ParseJson("{\"type\": ", "x").ok());
  EXPECT_FALSE(ParseJson("", "x").ok());
  EXPECT_TRUE(ParseJson("{}", "x").ok());
}

class StateFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ublk-state-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = std::string(tmpl) + "/run";
  }
  void TearDown() override {
    std::string cmd = "rm -rf " + dir_.substr(0, dir_.rfind('/'));
    ASSERT_EQ(system(cmd.c_str()), 0);
  }
  std::string dir_;
};

TEST_F(StateFileTest, WritesAtomicallyAndReadsBack) {
  DeviceState st;
  st.spec = Sample();
  st.dev_id = 4;
  st.pid = 1234;
  st.flags = 0x40;
  st.data_path = "copy";
  st.queues = 2;
  st.depth = 256;
  st.size_bytes = 1ULL << 30;
  ASSERT_TRUE(WriteState(dir_, st).ok());
  auto back = ReadState(dir_, 4);
  ASSERT_TRUE(back.ok()) << back.error().message();
  EXPECT_EQ(*back, st);
  EXPECT_NE(access((StatePath(dir_, 4) + ".tmp").c_str(), F_OK), 0);
  RemoveState(dir_, 4);
  auto gone = ReadState(dir_, 4);
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.error().code().value(), ENOENT);
}

TEST_F(StateFileTest, CorruptFileIsAnErrorNamingTheFile) {
  DeviceState st;
  st.spec = Sample();
  st.dev_id = 9;
  ASSERT_TRUE(WriteState(dir_, st).ok());
  FILE* f = fopen(StatePath(dir_, 9).c_str(), "w");
  fputs("{\"spec\": {\"type\": \"null\"}, \"dev_id\": ", f);
  fclose(f);
  auto r = ReadState(dir_, 9);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find(StatePath(dir_, 9)), std::string::npos);
}

TEST_F(StateFileTest, FileForAnotherDeviceIsRefused) {
  DeviceState st;
  st.spec = Sample();
  st.dev_id = 1;
  ASSERT_TRUE(WriteState(dir_, st).ok());
  ASSERT_EQ(rename(StatePath(dir_, 1).c_str(), StatePath(dir_, 2).c_str()), 0);
  EXPECT_FALSE(ReadState(dir_, 2).ok());
}

}  // namespace
}  // namespace ublk

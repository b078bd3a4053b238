// Specs and state files survive a round trip; bad ones are named, not crashed on.
#include "spec_json.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

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
  s.poll_us = 20;
  s.threads = 4;
  s.cpus = {1, 0};
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

TEST(SpecJson, RoundTripsTheBatchChoiceAndLeavesItOutWhenNotAsked) {
  for (Batch b : {Batch::kOn, Batch::kOff}) {
    DeviceSpec s = Sample();
    s.batch = b;
    auto back = SpecFromJson(SpecToJson(s));
    ASSERT_TRUE(back.ok()) << back.error().message();
    EXPECT_EQ(*back, s);
  }
  EXPECT_FALSE(SpecToJson(Sample()).contains("batch"));
  auto j = SpecToJson(Sample());
  j["batch"] = "sometimes";
  EXPECT_FALSE(SpecFromJson(j).ok());
}

DeviceSpec LoopSample() {
  DeviceSpec s = Sample();
  s.type = "loop";
  s.file = "/var/lib/disk.img";
  s.options.Set("offset", uint64_t{1} << 20);
  s.options.Set("logical-block-size", uint64_t{4096});
  s.options.Set("buffered", true);
  s.read_only = true;
  s.zero_copy = ZeroCopy::kExplicit;
  return s;
}

TEST(SpecJson, RoundTripsLoopOptions) {
  const DeviceSpec s = LoopSample();
  auto back = SpecFromJson(SpecToJson(s));
  ASSERT_TRUE(back.ok()) << back.error().message();
  EXPECT_EQ(*back, s);
  auto j = SpecToJson(s);
  EXPECT_EQ(j["options"]["offset"], 1u << 20);
  EXPECT_EQ(j["options"]["buffered"], true);
  j["options"]["buffered"] = "yes";
  EXPECT_NE(SpecFromJson(j).error().message().find("\"buffered\""),
            std::string::npos);
  j = SpecToJson(s);
  j["options"]["logical-block-size"] = 65536;
  EXPECT_NE(SpecFromJson(j).error().message().find(
                "--logical-block-size 65536: must be 512 or 4096"),
            std::string::npos);
  j = SpecToJson(s);
  j["zero_copy"] = "sometimes";
  EXPECT_NE(SpecFromJson(j).error().message().find("\"zero_copy\""),
            std::string::npos);
  // State files written before -z existed have no field: copy mode.
  j.erase("zero_copy");
  EXPECT_EQ(SpecFromJson(j)->zero_copy, ZeroCopy::kOff);
}

TEST(SpecJson, RoundTripsTestingOptionsAndLeavesThemOutWhenUnset) {
  DeviceSpec s = LoopSample();
  s.zero_copy = ZeroCopy::kAuto;
  s.testing.stall_before_start_s = 30;
  s.testing.stall_before_stop_s = 7;
  s.testing.force_auto_fallback = true;
  auto back = SpecFromJson(SpecToJson(s));
  ASSERT_TRUE(back.ok()) << back.error().message();
  EXPECT_EQ(*back, s);
  EXPECT_FALSE(SpecToJson(Sample()).contains("testing"));
  auto j = SpecToJson(s);
  j["testing"]["stall_before_start"] = 100000;
  EXPECT_NE(SpecFromJson(j).error().message().find("stall_before_start"),
            std::string::npos);
  j = SpecToJson(s);
  j["zero_copy"] = "off";  // the fallback exists only with zero-copy auto
  EXPECT_NE(SpecFromJson(j).error().message().find("--force-auto-fallback"),
            std::string::npos);
}

TEST(SpecJson, OptionsOfAnotherTargetAreRefused) {
  DeviceSpec nvme = Sample();
  nvme.type = "nvme";
  nvme.file = "/dev/ng0n1";
  auto j = SpecToJson(nvme);
  j["options"]["offset"] = 4096;
  EXPECT_NE(SpecFromJson(j).error().message().find(
                "--offset: not an option of the nvme target"),
            std::string::npos);
  j = SpecToJson(Sample());
  j["read_only"] = true;
  EXPECT_NE(SpecFromJson(j).error().message().find(
                "--read-only: not an option of the null target"),
            std::string::npos);
  j = SpecToJson(Sample());
  j["file"] = "/img";
  EXPECT_FALSE(SpecFromJson(j).ok());
  j = SpecToJson(Sample());
  j["zero_copy"] = "auto";
  EXPECT_TRUE(SpecFromJson(j).ok());  // null takes -z, as the reference's does
  j = SpecToJson(Sample());
  j["options"] = "none";
  EXPECT_NE(SpecFromJson(j).error().message().find("\"options\""),
            std::string::npos);
}

// The layout of the version before targets declared their options: every
// target's spec carried loop's options at its top level. A device made then
// must still be recoverable.
TEST(SpecJson, ReadsTheLayoutWithLoopOptionsAtTheTopLevel) {
  const auto loop = nlohmann::json::parse(R"({
    "type": "loop", "queues": 1, "depth": 128, "name": "", "file": "/img",
    "max_io_bytes": 524288, "offset": 1048576, "logical_block_size": 4096,
    "buffered": true, "read_only": true, "zero_copy": "auto",
    "recovery": "reissue", "id": 3})");
  auto s = SpecFromJson(loop);
  ASSERT_TRUE(s.ok()) << s.error().message();
  EXPECT_EQ(LoopSample().options, s->options);
  EXPECT_TRUE(s->read_only);
  EXPECT_EQ(s->zero_copy, ZeroCopy::kAuto);
  // Its null and nvme specs had the same fields, and null's said copy or
  // auto for -z, which it ignored.
  const auto null = nlohmann::json::parse(R"({
    "type": "null", "queues": 1, "depth": 128, "name": "", "file": "",
    "max_io_bytes": 524288, "offset": 0, "logical_block_size": 512,
    "buffered": false, "read_only": false, "zero_copy": "off",
    "recovery": "off"})");
  auto n = SpecFromJson(null);
  ASSERT_TRUE(n.ok()) << n.error().message();
  EXPECT_TRUE(n->options.empty());
  EXPECT_EQ(n->zero_copy, ZeroCopy::kBest);
  auto bad = loop;
  bad["logical_block_size"] = 1024;
  EXPECT_NE(SpecFromJson(bad).error().message().find("must be 512 or 4096"),
            std::string::npos);
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
  st.backing = BackingIdentity{BackingIdentity::Kind::kBlock, 0, 0, 259, 1 << 20};
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

DeviceState GoodState(uint32_t id) {
  DeviceState st;
  st.spec = Sample();
  st.spec.id = id;
  st.dev_id = id;
  st.pid = 1234;
  st.data_path = "copy";
  st.queues = 2;
  st.depth = 256;
  st.size_bytes = 1ULL << 30;
  return st;
}

void Overwrite(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::trunc) << text;
}

// Each hand edit must be refused, with a message naming the file and the
// field; none may crash or yield a state.
TEST_F(StateFileTest, HandEditedFieldsAreRefusedNamingTheField) {
  const struct {
    const char* key;
    nlohmann::json value;
    const char* expect;
  } edits[] = {
      {"pid", "1234", "\"pid\""},
      {"pid", 0, "\"pid\""},
      {"pid", -5, "\"pid\""},
      {"queues", 0, "\"queues\""},
      {"depth", 70000, "\"depth\""},
      {"size", 1.5, "\"size\""},
      {"data_path", "warp-drive", "\"data_path\""},
      {"flags", nullptr, "\"flags\""},
      {"backing", "inode 7", "\"backing\""},
      {"spec", nlohmann::json::array(), "spec"},
  };
  for (const auto& e : edits) {
    ASSERT_TRUE(WriteState(dir_, GoodState(3)).ok());
    auto j = StateToJson(GoodState(3));
    j[e.key] = e.value;
    Overwrite(StatePath(dir_, 3), j.dump());
    auto r = ReadState(dir_, 3);
    ASSERT_FALSE(r.ok()) << e.key;
    EXPECT_NE(r.error().message().find(StatePath(dir_, 3)), std::string::npos)
        << r.error().message();
    EXPECT_NE(r.error().message().find(e.expect), std::string::npos)
        << r.error().message();
  }
}

TEST_F(StateFileTest, MissingFieldsUnknownTargetAndMismatchedIdAreRefused) {
  for (const char* key : {"spec", "dev_id", "pid", "flags", "data_path",
                          "queues", "depth", "size"}) {
    ASSERT_TRUE(WriteState(dir_, GoodState(5)).ok());
    auto j = StateToJson(GoodState(5));
    j.erase(key);
    Overwrite(StatePath(dir_, 5), j.dump());
    auto r = ReadState(dir_, 5);
    ASSERT_FALSE(r.ok()) << key;
    EXPECT_NE(r.error().message().find(key), std::string::npos)
        << r.error().message();
  }
  auto j = StateToJson(GoodState(5));
  j["spec"]["type"] = "floppy";
  Overwrite(StatePath(dir_, 5), j.dump());
  auto r = ReadState(dir_, 5);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("unknown target type 'floppy'"),
            std::string::npos);
  j = StateToJson(GoodState(5));
  j["spec"]["id"] = 6;
  Overwrite(StatePath(dir_, 5), j.dump());
  EXPECT_FALSE(ReadState(dir_, 5).ok());
}

TEST_F(StateFileTest, EveryTruncationOfAStateFileIsAnErrorNotACrash) {
  DeviceState st = GoodState(7);
  st.backing = BackingIdentity{BackingIdentity::Kind::kFile, 1, 2, 0, 4096};
  ASSERT_TRUE(WriteState(dir_, st).ok());
  const std::string text = StateToJson(st).dump(2);
  for (size_t n = 0; n < text.size() - 1; ++n) {
    Overwrite(StatePath(dir_, 7), text.substr(0, n));
    EXPECT_FALSE(ReadState(dir_, 7).ok()) << n;
  }
  Overwrite(StatePath(dir_, 7), text);
  auto back = ReadState(dir_, 7);
  ASSERT_TRUE(back.ok()) << back.error().message();
  EXPECT_EQ(*back, st);
}

TEST_F(StateFileTest, BinaryGarbageAndHugeFilesAreRefused) {
  ASSERT_TRUE(WriteState(dir_, GoodState(8)).ok());
  Overwrite(StatePath(dir_, 8), std::string("\0\xff\xfe{[\"", 7));
  EXPECT_FALSE(ReadState(dir_, 8).ok());
  Overwrite(StatePath(dir_, 8), std::string(1 << 20, ' '));
  auto r = ReadState(dir_, 8);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("too big"), std::string::npos);
}

TEST_F(StateFileTest, SymlinkedOrWritableStateFileIsNotTrusted) {
  ASSERT_TRUE(WriteState(dir_, GoodState(1)).ok());
  ASSERT_EQ(symlink(StatePath(dir_, 1).c_str(), StatePath(dir_, 2).c_str()), 0);
  auto r = ReadState(dir_, 2);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("symlink"), std::string::npos);
  ASSERT_EQ(chmod(StatePath(dir_, 1).c_str(), 0666), 0);
  r = ReadState(dir_, 1);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("writable"), std::string::npos);
}

TEST_F(StateFileTest, DirectoryIsCreated0755) {
  ASSERT_TRUE(PrepareStateDir(dir_).ok());
  struct stat st {};
  ASSERT_EQ(lstat(dir_.c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(st.st_mode & 022, 0u);
  EXPECT_EQ(st.st_uid, geteuid());
}

TEST_F(StateFileTest, WorldWritableDirectoryIsRefusedBeforeWriting) {
  ASSERT_EQ(mkdir(dir_.c_str(), 0755), 0);
  ASSERT_EQ(chmod(dir_.c_str(), 01777), 0);
  auto r = PrepareStateDir(dir_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), "state directory " + dir_ +
                                     " is unsafe: writable by group or "
                                     "others (mode 1777)");
  EXPECT_FALSE(WriteState(dir_, GoodState(1)).ok());
  EXPECT_NE(access(StatePath(dir_, 1).c_str(), F_OK), 0);
  ASSERT_EQ(chmod(dir_.c_str(), 0775), 0);
  EXPECT_FALSE(PrepareStateDir(dir_).ok());
}

TEST_F(StateFileTest, SymlinkedDirectoryIsRefused) {
  const std::string real = dir_ + "-real";
  ASSERT_EQ(mkdir(real.c_str(), 0755), 0);
  ASSERT_EQ(symlink(real.c_str(), dir_.c_str()), 0);
  auto r = PrepareStateDir(dir_);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("is a symlink"), std::string::npos);
  EXPECT_FALSE(WriteState(dir_, GoodState(1)).ok());
}

TEST_F(StateFileTest, FileInAWritableDirectoryIsNotTrusted) {
  ASSERT_TRUE(WriteState(dir_, GoodState(4)).ok());
  ASSERT_EQ(chmod(dir_.c_str(), 0777), 0);
  auto r = ReadState(dir_, 4);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("not trusted"), std::string::npos);
  EXPECT_NE(r.error().message().find("unsafe"), std::string::npos);
}

}  // namespace
}  // namespace ublk

// `ublk add --config FILE`: a TOML file whose keys are add's long options.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "config_file.h"
#include "options.h"

namespace ublk {
namespace {

// A configuration file in a fresh temporary folder, removed afterwards.
class ConfigFile : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ublk-config-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    for (const auto& f : files_) std::remove(f.c_str());
    rmdir(dir_.c_str());
  }
  std::string Write(const std::string& name, const std::string& text) {
    std::string path = dir_ + "/" + name;
    std::ofstream(path) << text;
    files_.push_back(path);
    return path;
  }
  static Result<AddCommand> Add(std::vector<std::string> args) {
    args.insert(args.begin(), "add");
    auto r = ParseCommandLine(args);
    if (!r) return r.error();
    return std::get<AddCommand>(*r);
  }
  static std::string ErrorOf(std::vector<std::string> args) {
    auto r = Add(std::move(args));
    return r.ok() ? "" : r.error().message();
  }
  std::string dir_;
  std::vector<std::string> files_;
};

TEST_F(ConfigFile, KeysAreTheLongOptionsOfAdd) {
  std::string path = Write("data.toml",
                           "type = \"loop\"\n"
                           "file = \"/var/lib/data.img\"\n"
                           "queues = 2\n"
                           "depth = 64\n"
                           "recovery = true\n"
                           "recovery-mode = \"fail-io\"\n"
                           "read-only = false\n"
                           "size = \"1G\"\n");
  auto add = Add({"--config", path});
  ASSERT_TRUE(add.ok()) << add.error().message();
  const DeviceSpec& s = add->spec;
  EXPECT_EQ(s.type, "loop");
  EXPECT_EQ(s.file, "/var/lib/data.img");
  EXPECT_EQ(s.queues, 2);
  EXPECT_EQ(s.depth, 64);
  EXPECT_EQ(s.recovery, Recovery::kFailIo);
  EXPECT_FALSE(s.read_only);
  EXPECT_EQ(s.size, uint64_t{1} << 30);
}

TEST_F(ConfigFile, TheDeviceIsNamedAfterTheFileUnlessItSaysOtherwise) {
  std::string path = Write("scratch.toml", "type = \"null\"\n");
  auto add = Add({"--config", path});
  ASSERT_TRUE(add.ok()) << add.error().message();
  EXPECT_EQ(add->spec.name, "scratch");
  std::string named = Write("other.toml", "type = \"null\"\nname = \"fast\"\n");
  add = Add({"--config", named});
  ASSERT_TRUE(add.ok());
  EXPECT_EQ(add->spec.name, "fast");
  add = Add({"--config", named, "--name", "cli"});
  ASSERT_TRUE(add.ok());
  EXPECT_EQ(add->spec.name, "cli");
}

TEST_F(ConfigFile, TheCommandLineOverridesTheFile) {
  std::string path = Write("d.toml", "type = \"null\"\nqueues = 2\n");
  auto add = Add({"-q", "1", "--config", path});
  ASSERT_TRUE(add.ok()) << add.error().message();
  EXPECT_EQ(add->spec.queues, 1);
}

TEST_F(ConfigFile, BooleansAndZeroCopyModes) {
  std::string path = Write("z.toml",
                           "type = \"loop\"\nfile = \"/x\"\n"
                           "zero-copy = false\nbuffered = true\n");
  auto add = Add({"--config", path});
  ASSERT_TRUE(add.ok()) << add.error().message();
  EXPECT_EQ(add->spec.zero_copy, ZeroCopy::kOff);
  std::string modes = Write("m.toml",
                            "type = \"loop\"\nfile = \"/x\"\n"
                            "zero-copy = \"explicit\"\n");
  add = Add({"--config", modes});
  ASSERT_TRUE(add.ok()) << add.error().message();
  EXPECT_EQ(add->spec.zero_copy, ZeroCopy::kExplicit);
}

TEST_F(ConfigFile, AnUnknownKeyNamesTheFileTheLineAndTheKey) {
  std::string path = Write("bad.toml", "type = \"null\"\n\nqueus = 2\n");
  EXPECT_EQ(ErrorOf({"--config", path}),
            path + ":3: unknown key 'queus' (the keys are the long options of "
                   "'ublk add'; see 'ublk help add')");
}

TEST_F(ConfigFile, HowTheCommandRunsIsNoKey) {
  for (const char* key : {"foreground = true", "json = true",
                          "config = \"/x\"", "help = true"}) {
    std::string path = Write("k.toml", std::string("type = \"null\"\n") + key);
    EXPECT_NE(ErrorOf({"--config", path}).find(":2: unknown key"),
              std::string::npos)
        << key;
  }
}

TEST_F(ConfigFile, AWrongTypeNamesTheKeyAndWhatItMustBe) {
  std::string path = Write("t.toml", "type = \"null\"\nqueues = \"2\"\n");
  EXPECT_EQ(ErrorOf({"--config", path}),
            path + ":2: key 'queues' must be a whole number, not a string");
  path = Write("t2.toml", "type = \"null\"\nrecovery = 1\n");
  EXPECT_EQ(ErrorOf({"--config", path}),
            path + ":2: key 'recovery' must be true or false, not a number");
  path = Write("t3.toml", "type = 7\n");
  EXPECT_EQ(ErrorOf({"--config", path}),
            path + ":1: key 'type' must be a quoted string, not a number");
  path = Write("t4.toml", "type = \"null\"\n[section]\nx = 1\n");
  EXPECT_NE(ErrorOf({"--config", path}).find(":2: key 'section': must be a "),
            std::string::npos);
}

TEST_F(ConfigFile, AMissingRequiredKeyNamesTheFile) {
  std::string path = Write("m.toml", "queues = 1\n");
  EXPECT_EQ(ErrorOf({"--config", path}),
            path + ": missing required key 'type' (for example type = \"loop\")");
  path = Write("f.toml", "type = \"loop\"\n");
  EXPECT_NE(ErrorOf({"--config", path}).find(path + ": missing required key 'file'"),
            std::string::npos);
}

TEST_F(ConfigFile, ValuesAreCheckedLikeOptionsAndNameTheirLine) {
  std::string path = Write("v.toml", "type = \"null\"\nqueues = 0\n");
  EXPECT_EQ(ErrorOf({"--config", path}).rfind(path + ":2: queues 0:", 0), 0u)
      << ErrorOf({"--config", path});
  path = Write("n.toml", "type = \"null\"\nfile = \"/x\"\n");
  EXPECT_NE(ErrorOf({"--config", path}).find(path + ":2: file"),
            std::string::npos)
      << ErrorOf({"--config", path});
}

TEST_F(ConfigFile, NotTomlAndMissingFilesAreOneLine) {
  std::string path = Write("x.toml", "type = \"null\nqueues = 2\n");
  std::string e = ErrorOf({"--config", path});
  EXPECT_EQ(e.rfind(path + ":1:", 0), 0u) << e;
  EXPECT_NE(e.find("not valid TOML"), std::string::npos) << e;
  EXPECT_EQ(e.find('\n'), std::string::npos) << e;
  e = ErrorOf({"--config", dir_ + "/absent.toml"});
  EXPECT_NE(e.find("absent.toml"), std::string::npos) << e;
  EXPECT_NE(e.find("No such file"), std::string::npos) << e;
}

TEST(ConfigText, EntriesKeepFileOrderAndLines) {
  auto e = ParseConfigText("type = \"loop\"\nqueues = 2\nrecovery = true\n",
                           "f.toml");
  ASSERT_TRUE(e.ok());
  ASSERT_EQ(e->size(), 3u);
  EXPECT_EQ((*e)[0].key, "type");
  EXPECT_EQ((*e)[1].key, "queues");
  EXPECT_EQ((*e)[1].text, "2");
  EXPECT_EQ((*e)[1].line, 2u);
  EXPECT_EQ((*e)[2].type, ConfigEntry::Type::kBoolean);
  EXPECT_TRUE((*e)[2].boolean);
}

}  // namespace
}  // namespace ublk

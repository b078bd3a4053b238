// CheckBackingFile: a state file's backing path must still name the file the
// device was created on; a hand-edited or replaced one is refused.
#include "backing_file.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <fstream>

namespace ublk {
namespace {

class BackingFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ublk-backing-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    a_ = dir_ + "/a.img";
    b_ = dir_ + "/b.img";
    Make(a_, 8192);
    Make(b_, 8192);
  }
  void TearDown() override {
    std::string cmd = "rm -rf " + dir_;
    ASSERT_EQ(system(cmd.c_str()), 0);
  }
  static void Make(const std::string& path, size_t bytes) {
    std::ofstream(path, std::ios::trunc) << std::string(bytes, 'x');
  }
  DeviceState StateFor(const std::string& path) {
    DeviceState st;
    st.spec.type = "loop";
    st.spec.file = path;
    st.dev_id = 3;
    auto id = IdentifyBackingFile(path);
    EXPECT_TRUE(id.ok());
    if (id) st.backing = *id;
    return st;
  }
  std::string dir_, a_, b_;
};

TEST_F(BackingFileTest, SameFileIsAccepted) {
  DeviceState st = StateFor(a_);
  EXPECT_EQ(st.backing->kind, BackingIdentity::Kind::kFile);
  EXPECT_EQ(st.backing->size, 8192u);
  auto r = CheckBackingFile(st);
  EXPECT_TRUE(r.ok()) << r.error().message();
}

TEST_F(BackingFileTest, SymlinkToTheSameFileIsAccepted) {
  ASSERT_EQ(symlink(a_.c_str(), (dir_ + "/link").c_str()), 0);
  DeviceState st = StateFor(a_);
  st.spec.file = dir_ + "/link";
  EXPECT_TRUE(CheckBackingFile(st).ok());
}

TEST_F(BackingFileTest, HandEditedPathIsRefusedNamingIt) {
  DeviceState st = StateFor(a_);
  st.spec.file = b_;
  auto r = CheckBackingFile(st);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find(b_ + " is not the one the device was "
                                          "created on"),
            std::string::npos)
      << r.error().message();
}

TEST_F(BackingFileTest, ReplacedFileWithTheSameNameIsRefused) {
  DeviceState st = StateFor(a_);
  ASSERT_EQ(rename(b_.c_str(), a_.c_str()), 0);
  EXPECT_FALSE(CheckBackingFile(st).ok());
}

TEST_F(BackingFileTest, ResizedFileIsRefused) {
  DeviceState st = StateFor(a_);
  ASSERT_EQ(truncate(a_.c_str(), 4096), 0);
  EXPECT_FALSE(CheckBackingFile(st).ok());
}

TEST_F(BackingFileTest, MissingFileIsRefused) {
  DeviceState st = StateFor(a_);
  ASSERT_EQ(unlink(a_.c_str()), 0);
  auto r = CheckBackingFile(st);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code().value(), ENOENT);
  EXPECT_NE(r.error().message().find(a_), std::string::npos);
}

TEST_F(BackingFileTest, BackingPathWithoutARecordedIdentityIsRefused) {
  DeviceState st = StateFor(a_);
  st.backing.reset();
  auto r = CheckBackingFile(st);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("records no identity"), std::string::npos);
}

TEST_F(BackingFileTest, NoBackingPathNeedsNoIdentity) {
  DeviceState st;
  st.spec.type = "null";
  EXPECT_TRUE(CheckBackingFile(st).ok());
}

TEST_F(BackingFileTest, CharDeviceIsIdentifiedByItsDeviceNumber) {
  auto null = IdentifyBackingFile("/dev/null");
  ASSERT_TRUE(null.ok());
  EXPECT_EQ(null->kind, BackingIdentity::Kind::kChar);
  EXPECT_TRUE(CheckBackingFile("/dev/null", *null).ok());
  EXPECT_FALSE(CheckBackingFile("/dev/zero", *null).ok());
}

}  // namespace
}  // namespace ublk

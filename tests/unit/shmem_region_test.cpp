#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <string>

#include <gtest/gtest.h>

#include "shmem_region.h"

namespace ublk {
namespace {

constexpr long kTmpfsMagic = 0x01021994;

bool OnTmpfs(const char* dir) {
  struct statfs fs;
  return ::statfs(dir, &fs) == 0 && static_cast<long>(fs.f_type) == kTmpfsMagic;
}

std::string MakeFile(const std::string& dir, off_t size) {
  std::string path = dir + "/shmem_region_test.XXXXXX";
  int fd = ::mkstemp(path.data());
  EXPECT_GE(fd, 0);
  EXPECT_EQ(::ftruncate(fd, size), 0);
  ::close(fd);
  return path;
}

void ExpectRefused(const std::string& path, const std::string& words) {
  auto r = ShmemRegion::Open(path);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find(words), std::string::npos)
      << r.error().message();
  EXPECT_EQ(r.error().message().find('\n'), std::string::npos);
}

TEST(ShmemRegion, MapsATmpfsFileAndResolvesOnlyItsOwnRange) {
  if (!OnTmpfs("/dev/shm")) GTEST_SKIP() << "/dev/shm is not tmpfs here";
  const std::string path = MakeFile("/dev/shm", 64 * 1024);
  auto r = ShmemRegion::Open(path);
  ASSERT_TRUE(r.ok()) << r.error().message();
  ShmemRegion& m = **r;
  EXPECT_EQ(m.size(), 64u * 1024);
  // Nothing resolves before the kernel has given the index.
  EXPECT_EQ(m.Resolve(0, 0, 4096), nullptr);
  m.set_index(2);
  EXPECT_EQ(m.Resolve(2, 4096, 4096), m.base() + 4096);
  EXPECT_EQ(m.Resolve(2, 60 * 1024, 4096), m.base() + 60 * 1024);
  EXPECT_EQ(m.Resolve(1, 0, 4096), nullptr);            // another buffer
  EXPECT_EQ(m.Resolve(2, 61 * 1024, 4096), nullptr);    // runs past the end
  EXPECT_EQ(m.Resolve(2, 0xFFFFF000u, 0x2000), nullptr);  // wraps
  ::unlink(path.c_str());
}

TEST(ShmemRegion, RefusesWhatTheKernelCouldNotPin) {
  ExpectRefused("/nonexistent/ublk-shmem", "--htlb /nonexistent/ublk-shmem");
  ExpectRefused("/dev/null", "not a regular file");
  if (!OnTmpfs("/dev/shm")) GTEST_SKIP() << "/dev/shm is not tmpfs here";
  std::string path = MakeFile("/dev/shm", 0);
  ExpectRefused(path, "empty");
  ::unlink(path.c_str());
  path = MakeFile("/dev/shm", 4096 + 512);
  ExpectRefused(path, "whole number of pages");
  ::unlink(path.c_str());
  if (!OnTmpfs(".")) {
    path = MakeFile(".", 4096);
    ExpectRefused(path, "not on hugetlbfs or tmpfs");
    ::unlink(path.c_str());
  }
}

}  // namespace
}  // namespace ublk

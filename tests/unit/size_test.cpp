#include "size.h"

#include <gtest/gtest.h>

namespace ublk {
namespace {

TEST(Size, AcceptsBytesAndBinarySuffixes) {
  EXPECT_EQ(*ParseSize("4096"), 4096u);
  EXPECT_EQ(*ParseSize("512K"), 512u << 10);
  EXPECT_EQ(*ParseSize("10m"), 10u << 20);
  EXPECT_EQ(*ParseSize("250G"), 250ULL << 30);
  EXPECT_EQ(*ParseSize("1TiB"), 1ULL << 40);
  EXPECT_EQ(*ParseSize("2GB"), 2ULL << 30);
  EXPECT_EQ(*ParseSize("100B"), 100u);
}

TEST(Size, RejectsMalformedText) {
  for (const char* bad : {"", "G", "-1", "1.5G", "10X", "12 G", "1GG", "0x10",
                          "99999999999999999999", "20000000P"}) {
    auto r = ParseSize(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_NE(r.error().message().find("malformed size"), std::string::npos);
    }
  }
}

TEST(Size, FormatsWithTheLargestExactUnit) {
  EXPECT_EQ(FormatSize(250ULL << 30), "250 GiB");
  EXPECT_EQ(FormatSize(4096), "4 KiB");
  EXPECT_EQ(FormatSize(1536ULL << 20), "1.5 GiB");
  EXPECT_EQ(FormatSize(100), "100 B");
}

}  // namespace
}  // namespace ublk

// The server's report line is parsed without trusting it: a missing or
// mistyped field is an error naming it, never an exception or a crash.
#include "report.h"

#include <gtest/gtest.h>

#include "json_fields.h"

namespace ublk {
namespace {

nlohmann::json GoodReport() {
  return {{"ok", true},          {"dev_id", 3},
          {"block", "/dev/ublkb3"}, {"char", "/dev/ublkc3"},
          {"type", "loop"},      {"queues", 2},
          {"depth", 128},        {"size", 1ULL << 30},
          {"max_io_bytes", 524288}, {"data_path", "zero-copy/auto"},
          {"features", {"USER_COPY", "AUTO_BUF_REG"}},
          {"recovery", "reissue"}, {"recovered", false},
          {"notes", {"disk.img: buffered I/O instead of O_DIRECT: x"}},
          {"pid", 1234}};
}

TEST(ServerReport, ParsesWhatTheServerSends) {
  auto r = ParseServerReport(DumpJson(GoodReport()));
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->dev_id, 3u);
  EXPECT_EQ(r->block, "/dev/ublkb3");
  EXPECT_EQ(r->queues, 2);
  EXPECT_EQ(r->size, 1ULL << 30);
  EXPECT_EQ(r->features.size(), 2u);
  EXPECT_EQ(r->recovery, "reissue");
  ASSERT_EQ(r->notes.size(), 1u);
  EXPECT_FALSE(r->json.contains("ok"));
}

TEST(ServerReport, FailureCarriesTheServersOwnMessage) {
  auto r = ParseServerReport(R"({"ok":false,"error":"no such file"})");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), "no such file");
}

TEST(ServerReport, EmptyLineMeansTheServerDied) {
  auto r = ParseServerReport("");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("exited before"), std::string::npos);
}

TEST(ServerReport, EveryMissingFieldIsNamed) {
  for (const char* key : {"dev_id", "block", "type", "size", "queues", "depth",
                          "max_io_bytes", "data_path", "features", "pid"}) {
    nlohmann::json j = GoodReport();
    j.erase(key);
    auto r = ParseServerReport(DumpJson(j));
    ASSERT_FALSE(r.ok()) << key;
    EXPECT_NE(r.error().message().find(key), std::string::npos)
        << r.error().message();
  }
}

TEST(ServerReport, MistypedFieldsAreErrorsNotExceptions) {
  const std::pair<const char*, nlohmann::json> bad[] = {
      {"ok", "yes"},        {"dev_id", -1},       {"dev_id", "3"},
      {"queues", 70000},    {"features", "USER_COPY"},
      {"features", {1, 2}}, {"pid", 1.5},         {"recovered", 1},
      {"block", nullptr},   {"notes", {"a", 2}},
  };
  for (const auto& [key, value] : bad) {
    nlohmann::json j = GoodReport();
    j[key] = value;
    auto r = ParseServerReport(DumpJson(j));
    EXPECT_FALSE(r.ok()) << key << " = " << DumpJson(value);
  }
}

TEST(ServerReport, NotAnObjectIsAnError) {
  for (const char* line : {"[]", "42", "\"ok\"", "null", "{", "{\"ok\":true"})
    EXPECT_FALSE(ParseServerReport(line).ok()) << line;
}

TEST(DumpJson, InvalidUtf8IsReplacedNotThrown) {
  nlohmann::json j = {{"name", std::string("disk\xff\xfe")}};
  std::string text;
  EXPECT_NO_THROW(text = DumpJson(j));
  EXPECT_NE(text.find("disk"), std::string::npos);
}

TEST(IsUtf8, TellsWellFormedTextFromOtherEncodings) {
  EXPECT_TRUE(IsUtf8(""));
  EXPECT_TRUE(IsUtf8("/var/lib/disk.img"));
  EXPECT_TRUE(IsUtf8("/tmp/d\xc3\xa9j\xc3\xa0.img"));    // déjà
  EXPECT_TRUE(IsUtf8("\xf0\x9f\x92\xbe"));               // U+1F4BE
  EXPECT_FALSE(IsUtf8("/tmp/\xff.img"));                  // Latin-1 byte
  EXPECT_FALSE(IsUtf8("\xc3"));                           // truncated
  EXPECT_FALSE(IsUtf8("\xc0\xaf"));                       // overlong '/'
  EXPECT_FALSE(IsUtf8("\xed\xa0\x80"));                   // surrogate
  EXPECT_FALSE(IsUtf8("\xf4\x90\x80\x80"));               // past U+10FFFF
}

}  // namespace
}  // namespace ublk

// Option parsing and validation, compatible with the reference `ublk`.
#include "options.h"

#include <gtest/gtest.h>

namespace ublk {
namespace {

Result<Command> Parse(std::vector<std::string> args) {
  return ParseCommandLine(args);
}

std::string ErrorOf(std::vector<std::string> args) {
  auto r = Parse(std::move(args));
  return r.ok() ? "" : r.error().message();
}

TEST(Options, AddTakesReferenceServerShortOptions) {
  auto r = Parse({"add", "-t", "null", "-n", "3", "-q", "2", "-d", "64"});
  ASSERT_TRUE(r.ok()) << r.error().message();
  const auto& add = std::get<AddCommand>(*r);
  EXPECT_EQ(add.spec.type, "null");
  EXPECT_EQ(add.spec.id, 3u);
  EXPECT_EQ(add.spec.queues, 2);
  EXPECT_EQ(add.spec.depth, 64);
  EXPECT_FALSE(add.foreground);
}

TEST(Options, AddTakesLongOptionsWithEqualsOrSpace) {
  auto r = Parse({"add", "--type=null", "--queues", "1", "--size=1G",
                  "--name", "scratch", "--foreground", "--json"});
  ASSERT_TRUE(r.ok()) << r.error().message();
  const auto& add = std::get<AddCommand>(*r);
  EXPECT_EQ(add.spec.size, 1ULL << 30);
  EXPECT_EQ(add.spec.name, "scratch");
  EXPECT_TRUE(add.foreground);
  EXPECT_TRUE(add.json);
}

TEST(Options, AddDefaultsToOneQueueDepth128AndKernelChosenId) {
  auto r = Parse({"add", "-tnull"});
  ASSERT_TRUE(r.ok());
  const auto& add = std::get<AddCommand>(*r);
  EXPECT_EQ(add.spec.queues, 1);
  EXPECT_EQ(add.spec.depth, 128);
  EXPECT_FALSE(add.spec.id.has_value());
  EXPECT_FALSE(add.spec.size.has_value());
}

TEST(Options, AddRefusesBadValuesWithOneLineNamingTheOption) {
  EXPECT_NE(ErrorOf({"add", "-t", "null", "-q", "0"}).find("-q 0"),
            std::string::npos);
  EXPECT_NE(ErrorOf({"add", "-t", "null", "-d", "0"}).find("-d 0"),
            std::string::npos);
  EXPECT_NE(ErrorOf({"add", "-t", "null", "-d", "4097"}).find("1 to 4096"),
            std::string::npos);
  EXPECT_NE(ErrorOf({"add", "-t", "null", "-q", "x"}).find("whole number"),
            std::string::npos);
  EXPECT_NE(ErrorOf({"add", "-t", "null", "--size", "12Q"}).find("malformed"),
            std::string::npos);
  EXPECT_NE(ErrorOf({"add", "-t", "null", "--size", "1000"}).find("512"),
            std::string::npos);
  EXPECT_NE(ErrorOf({"add", "-t", "bogus"}).find("unknown target type 'bogus'"),
            std::string::npos);
  EXPECT_NE(ErrorOf({"add", "-t", "null", "--frobnicate"})
                .find("unknown option '--frobnicate'"),
            std::string::npos);
  EXPECT_NE(ErrorOf({"add"}).find("-t TYPE is required"), std::string::npos);
  EXPECT_NE(ErrorOf({"add", "-t"}).find("needs a value"), std::string::npos);
  EXPECT_NE(ErrorOf({"add", "-t", "null", "stray"}).find("unexpected"),
            std::string::npos);
  for (auto args : std::vector<std::vector<std::string>>{
           {"add", "-t", "null", "-q", "0"}, {"add", "-t", "bogus"}}) {
    EXPECT_EQ(ErrorOf(args).find('\n'), std::string::npos);
  }
}

TEST(Options, AddTakesLoopOptions) {
  auto r = Parse({"add", "-t", "loop", "-f", "/img", "--offset", "1M",
                  "--logical-block-size", "4096", "--buffered", "--read-only"});
  ASSERT_TRUE(r.ok()) << r.error().message();
  const auto& add = std::get<AddCommand>(*r);
  EXPECT_EQ(add.spec.file, "/img");
  EXPECT_EQ(add.spec.offset, 1u << 20);
  EXPECT_EQ(add.spec.logical_block_size, 4096u);
  EXPECT_TRUE(add.spec.buffered);
  EXPECT_TRUE(add.spec.read_only);
  const AddCommand plain = std::get<AddCommand>(*Parse({"add", "-t", "loop"}));
  EXPECT_EQ(plain.spec.offset, 0u);
  EXPECT_EQ(plain.spec.logical_block_size, 512u);
  EXPECT_FALSE(plain.spec.buffered);
  EXPECT_FALSE(plain.spec.read_only);
}

TEST(Options, AddRefusesBadLoopOptions) {
  EXPECT_NE(ErrorOf({"add", "-t", "loop", "--logical-block-size", "1024"})
                .find("--logical-block-size 1024: must be 512 or 4096"),
            std::string::npos);
  EXPECT_NE(ErrorOf({"add", "-t", "loop", "--logical-block-size", "x"})
                .find("must be 512 or 4096"),
            std::string::npos);
  EXPECT_NE(ErrorOf({"add", "-t", "loop", "--offset", "12Q"}).find("--offset"),
            std::string::npos);
  EXPECT_NE(ErrorOf({"add", "-t", "loop", "--buffered=1"}).find("takes no value"),
            std::string::npos);
}

TEST(Options, ZeroCopyIsAutoWhenGivenBareAndTheServersChoiceByDefault) {
  auto mode = [](std::vector<std::string> args) {
    return std::get<AddCommand>(*Parse(args)).spec.zero_copy;
  };
  EXPECT_EQ(mode({"add", "-t", "loop"}), ZeroCopy::kBest);
  EXPECT_EQ(mode({"add", "-t", "loop", "-z"}), ZeroCopy::kAuto);
  EXPECT_EQ(mode({"add", "-t", "loop", "--zero-copy"}), ZeroCopy::kAuto);
  EXPECT_EQ(mode({"add", "-t", "loop", "--zero-copy=auto"}), ZeroCopy::kAuto);
  EXPECT_EQ(mode({"add", "-t", "loop", "-z", "--zero-copy=off"}), ZeroCopy::kOff);
  EXPECT_EQ(mode({"add", "-t", "loop", "--zero-copy=explicit"}),
            ZeroCopy::kExplicit);
  EXPECT_EQ(mode({"add", "-t", "loop", "-zexplicit"}), ZeroCopy::kExplicit);
  // A bare -z never swallows the next argument as its value.
  auto r = Parse({"add", "-z", "-t", "loop"});
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(std::get<AddCommand>(*r).spec.type, "loop");
  EXPECT_NE(ErrorOf({"add", "-t", "loop", "--zero-copy=fast"})
                .find("--zero-copy=fast: must be auto, explicit or off"),
            std::string::npos);
  EXPECT_FALSE(Parse({"add", "-t", "loop", "--zero-copy=best"}).ok());
}

TEST(Options, DelNeedsExactlyOneOfIdOrAll) {
  EXPECT_TRUE(std::get<DelCommand>(*Parse({"del", "-n", "0"})).id == 0u);
  EXPECT_TRUE(std::get<DelCommand>(*Parse({"del", "-a"})).all);
  EXPECT_FALSE(Parse({"del"}).ok());
  EXPECT_FALSE(Parse({"del", "-a", "-n", "1"}).ok());
  EXPECT_FALSE(Parse({"del", "-n", "-1"}).ok());
}

TEST(Options, ListAndFeaturesTakeJson) {
  auto l = std::get<ListCommand>(*Parse({"list", "-n", "2", "--json"}));
  EXPECT_EQ(l.id, 2u);
  EXPECT_TRUE(l.json);
  EXPECT_TRUE(std::get<FeaturesCommand>(*Parse({"features", "--json"})).json);
}

TEST(Options, HelpAndVersion) {
  EXPECT_EQ(std::get<HelpCommand>(*Parse({"--help"})).topic, "");
  EXPECT_EQ(std::get<HelpCommand>(*Parse({"help", "add"})).topic, "add");
  EXPECT_EQ(std::get<HelpCommand>(*Parse({"add", "--help"})).topic, "add");
  EXPECT_TRUE(std::holds_alternative<VersionCommand>(*Parse({"--version"})));
  EXPECT_FALSE(Parse({"help", "nonsense"}).ok());
  EXPECT_FALSE(Parse({}).ok());
  EXPECT_FALSE(Parse({"frob"}).ok());
}

TEST(Options, HelpTextsTeachEveryCommand) {
  for (const char* topic : {"", "add", "del", "list", "features"})
    EXPECT_FALSE(HelpText(topic).empty()) << topic;
  EXPECT_NE(HelpText("add").find("null"), std::string::npos);
  EXPECT_NE(HelpText("add").find("--logical-block-size"), std::string::npos);
  EXPECT_NE(HelpText("del").find("mounted"), std::string::npos);
}

}  // namespace
}  // namespace ublk

namespace ublk {
namespace {

// Found by tests/fuzz/options_fuzz: an argument with a newline made a
// two-line error.
TEST(Options, ControlCharactersInArgumentsAreEscapedInErrors) {
  auto r = ParseCommandLine({"frob\nbar"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(),
            "unknown command 'frob\\x0abar' (try 'ublk --help')");
  r = ParseCommandLine({"add", "-t", "null", "--name\x1b[2J"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message().find('\x1b'), std::string::npos);
}

}  // namespace
}  // namespace ublk

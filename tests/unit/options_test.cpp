// Option parsing and validation, compatible with the reference `ublk`.
#include "options.h"

#include <gtest/gtest.h>

#include "option_table.h"
#include "registry.h"

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

TEST(Options, ThreadsAndCpusTakeACountAndACpuList) {
  auto r = Parse({"add", "-t", "null", "--threads", "4", "--cpus", "0-1,3"});
  ASSERT_TRUE(r.ok()) << r.error().message();
  const DeviceSpec& s = std::get<AddCommand>(*r).spec;
  EXPECT_EQ(s.threads, 4u);
  EXPECT_EQ(s.cpus, (std::vector<uint16_t>{0, 1, 3}));
  EXPECT_EQ(std::get<AddCommand>(*Parse({"add", "-t", "null"})).spec.threads,
            0u);
  EXPECT_NE(ErrorOf({"add", "-t", "null", "--threads", "0"}).find("--threads 0"),
            std::string::npos);
  EXPECT_NE(ErrorOf({"add", "-t", "null", "--cpus", "2-1"}).find("--cpus 2-1"),
            std::string::npos);
}

TEST(Options, PollUsTakesMicrosecondsUpToTenMilliseconds) {
  auto r = Parse({"add", "-t", "null", "--poll-us", "20"});
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(std::get<AddCommand>(*r).spec.poll_us, 20u);
  EXPECT_EQ(std::get<AddCommand>(*Parse({"add", "-t", "null"})).spec.poll_us,
            0u);
  EXPECT_NE(ErrorOf({"add", "-t", "null", "--poll-us", "10001"})
                .find("--poll-us 10001"),
            std::string::npos);
  EXPECT_NE(ErrorOf({"add", "-t", "null", "--poll-us", "-1"}).find("--poll-us"),
            std::string::npos);
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

TEST(Options, AddTakesLoopOptionsIntoTheTargetOptionSet) {
  auto r = Parse({"add", "-t", "loop", "-f", "/img", "--offset", "1M",
                  "--logical-block-size", "4096", "--buffered", "--read-only"});
  ASSERT_TRUE(r.ok()) << r.error().message();
  const auto& add = std::get<AddCommand>(*r);
  EXPECT_EQ(add.spec.file, "/img");
  EXPECT_TRUE(add.spec.read_only);
  TargetOptions want;
  want.Set("offset", uint64_t{1} << 20);
  want.Set("logical-block-size", uint64_t{4096});
  want.Set("buffered", true);
  EXPECT_EQ(add.spec.options, want);
  // Left out: nothing recorded, the table's defaults apply.
  const AddCommand plain =
      std::get<AddCommand>(*Parse({"add", "-t", "loop", "-f", "/img"}));
  EXPECT_TRUE(plain.spec.options.empty());
  EXPECT_FALSE(plain.spec.read_only);
}

TEST(Options, TargetOptionsMayComeBeforeTheType) {
  auto r = Parse({"add", "--offset", "4096", "-f", "/img", "-t", "loop"});
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_NE(std::get<AddCommand>(*r).spec.options.Find("offset"), nullptr);
  EXPECT_EQ(ErrorOf({"add", "--offset", "1M", "-t", "nvme", "-f", "/dev/ng0n1"}),
            "--offset: not an option of the nvme target");
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
  EXPECT_EQ(ErrorOf({"add", "-t", "loop"}),
            "the loop target needs a backing file: -f PATH");
  EXPECT_EQ(ErrorOf({"add", "-t", "nvme"}),
            "the nvme target needs -f /dev/ngXnY (or /dev/nvmeXnY)");
}

// The nvme target once took --read-only and --offset and ignored them: a
// "read-only" device that was writable, I/O at LBA 0 instead of the offset.
TEST(Options, EveryOptionATargetDoesNotTakeIsRefusedNamingIt) {
  struct Case {
    std::vector<std::string> args;
    std::string error;
  };
  const std::vector<Case> cases = {
      {{"--offset", "1M"}, "--offset: not an option of the nvme target"},
      {{"--logical-block-size", "4096"},
       "--logical-block-size: not an option of the nvme target"},
      {{"--buffered"}, "--buffered: not an option of the nvme target"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> args = {"add", "-t", "nvme", "-f", "/dev/ng0n1"};
    args.insert(args.end(), c.args.begin(), c.args.end());
    EXPECT_EQ(ErrorOf(args), c.error);
  }
  const std::vector<Case> null_cases = {
      {{"--read-only"}, "--read-only: not an option of the null target"},
      {{"-f", "/img"}, "-f: not an option of the null target"},
      {{"--file=/img"}, "--file: not an option of the null target"},
      {{"--offset", "1M"}, "--offset: not an option of the null target"},
      {{"--logical-block-size", "512"},
       "--logical-block-size: not an option of the null target"},
      {{"--buffered"}, "--buffered: not an option of the null target"},
  };
  for (const Case& c : null_cases) {
    std::vector<std::string> args = {"add", "-t", "null"};
    args.insert(args.end(), c.args.begin(), c.args.end());
    EXPECT_EQ(ErrorOf(args), c.error);
  }
}

TEST(Options, ReadOnlyIsTakenByEveryTargetThatStoresData) {
  for (const char* type : {"loop", "nvme"}) {
    auto r = Parse({"add", "-t", type, "-f", "/x", "--read-only"});
    ASSERT_TRUE(r.ok()) << type << ": " << r.error().message();
    EXPECT_TRUE(std::get<AddCommand>(*r).spec.read_only);
  }
}

TEST(Options, TestingOptionsAreCarriedInTheSpec) {
  auto r = Parse({"add", "-t", "null", "--stall-before-start", "30",
                  "--stall-before-stop=5"});
  ASSERT_TRUE(r.ok()) << r.error().message();
  const TestingOptions& t = std::get<AddCommand>(*r).spec.testing;
  EXPECT_EQ(t.stall_before_start_s, 30u);
  EXPECT_EQ(t.stall_before_stop_s, 5u);
  EXPECT_FALSE(t.force_auto_fallback);
  EXPECT_NE(ErrorOf({"add", "-t", "null", "--stall-before-start", "4000"})
                .find("--stall-before-start 4000: must be a whole number from "
                      "0 to 3600"),
            std::string::npos);
  auto f = Parse({"add", "-t", "loop", "-f", "/img", "-z",
                  "--force-auto-fallback"});
  ASSERT_TRUE(f.ok()) << f.error().message();
  EXPECT_TRUE(std::get<AddCommand>(*f).spec.testing.force_auto_fallback);
}

TEST(Options, ForcingTheAutoFallbackNeedsZeroCopyAuto) {
  for (auto extra : std::vector<std::vector<std::string>>{
           {}, {"--zero-copy=off"}, {"--zero-copy=explicit"}}) {
    std::vector<std::string> args = {"add", "-t", "loop", "-f", "/img",
                                     "--force-auto-fallback"};
    args.insert(args.end(), extra.begin(), extra.end());
    EXPECT_NE(ErrorOf(args).find("--force-auto-fallback needs --zero-copy=auto"),
              std::string::npos);
  }
}

TEST(Options, ZeroCopyIsAutoWhenGivenBareAndTheServersChoiceByDefault) {
  auto mode = [](std::vector<std::string> args) {
    args.insert(args.end(), {"-f", "/img"});
    auto r = Parse(args);
    EXPECT_TRUE(r.ok()) << r.error().message();
    return r.ok() ? std::get<AddCommand>(*r).spec.zero_copy : ZeroCopy::kBest;
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
  auto r = Parse({"add", "-z", "-t", "loop", "-f", "/img"});
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

TEST(Options, DelSafeIsAFlagBesideIdOrAll) {
  EXPECT_TRUE(std::get<DelCommand>(*Parse({"del", "-n", "3", "--safe"})).safe);
  EXPECT_TRUE(std::get<DelCommand>(*Parse({"del", "--safe", "-a"})).safe);
  EXPECT_FALSE(std::get<DelCommand>(*Parse({"del", "-n", "3"})).safe);
  EXPECT_FALSE(Parse({"del", "--safe"}).ok());
  EXPECT_FALSE(Parse({"del", "-n", "3", "--safe=yes"}).ok());
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

// Every row can be parsed and shown: a help text, a value name exactly for
// options with a value, a default the row itself accepts, and one kind for
// a name two targets share (the command line has one spelling for it).
TEST(Options, EveryTargetOptionRowIsWellFormed) {
  for (const TargetType& t : TargetTypes())
    for (const TargetOptionDef& o : t.options) {
      SCOPED_TRACE(std::string(t.name) + " --" + std::string(o.name));
      EXPECT_FALSE(o.help.empty());
      EXPECT_EQ(o.value_name.empty(), o.kind == OptionKind::kFlag);
      OptionValue def = o.kind == OptionKind::kFlag     ? OptionValue(false)
                        : o.kind == OptionKind::kChoice ? OptionValue(std::string(o.default_choice))
                                                        : OptionValue(o.default_number);
      EXPECT_TRUE(CheckOptionValue(o, def).ok());
      for (const TargetType& other : TargetTypes()) {
        if (const TargetOptionDef* same = FindOptionDef(other.options, o.name)) {
          EXPECT_EQ(same->kind, o.kind);
        }
      }
      EXPECT_TRUE(TargetTakes(t, o.name));
    }
}

TEST(Options, HelpForOneTargetComesFromEitherSpelling) {
  for (auto args : std::vector<std::vector<std::string>>{
           {"help", "add", "-t", "nvme"},
           {"add", "-t", "nvme", "--help"},
           {"add", "--help", "-tnvme"}}) {
    auto r = Parse(args);
    ASSERT_TRUE(r.ok()) << r.error().message();
    EXPECT_EQ(std::get<HelpCommand>(*r).topic, "add");
    EXPECT_EQ(std::get<HelpCommand>(*r).target, "nvme");
  }
  EXPECT_NE(ErrorOf({"help", "add", "-t", "bogus"})
                .find("unknown target type 'bogus'"),
            std::string::npos);
}

TEST(Options, AddHelpListsEachTargetsOwnOptionsFromItsTable) {
  const std::string all = HelpText("add");
  for (const TargetType& t : TargetTypes())
    for (const TargetOptionDef& o : t.options)
      EXPECT_NE(all.find("--" + std::string(o.name)), std::string::npos)
          << o.name;
  EXPECT_NE(all.find("testing"), std::string::npos);
  EXPECT_NE(all.find("--stall-before-start"), std::string::npos);
  EXPECT_NE(all.find("--force-auto-fallback"), std::string::npos);

  const std::string nvme = HelpText("add", "nvme");
  EXPECT_NE(nvme.find("--read-only"), std::string::npos);
  EXPECT_NE(nvme.find("-z, --zero-copy"), std::string::npos);
  EXPECT_EQ(nvme.find("--offset"), std::string::npos);
  EXPECT_EQ(nvme.find("--logical-block-size"), std::string::npos);
  EXPECT_EQ(nvme.find("--buffered"), std::string::npos);

  const std::string null = HelpText("add", "null");
  EXPECT_EQ(null.find("-f, --file"), std::string::npos);
  EXPECT_EQ(null.find("      --read-only"), std::string::npos);
  EXPECT_NE(null.find("-z, --zero-copy"), std::string::npos);
  EXPECT_EQ(null.find("--force-auto-fallback"), std::string::npos);
  EXPECT_NE(null.find("refuses -f, --read-only"), std::string::npos);

  const std::string loop = HelpText("add", "loop");
  EXPECT_NE(loop.find("      --offset SIZE     where the device starts"),
            std::string::npos);
  EXPECT_EQ(HelpText("add", "bogus"), "");
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

TEST(Options, PollIsAnNvmeFlagOnly) {
  auto r = Parse({"add", "-t", "nvme", "-f", "/dev/ng0n1", "--poll"});
  ASSERT_TRUE(r.ok()) << r.error().message();
  const OptionValue* poll = std::get<AddCommand>(*r).spec.options.Find("poll");
  ASSERT_NE(poll, nullptr);
  EXPECT_TRUE(std::get<bool>(*poll));
  EXPECT_EQ(ErrorOf({"add", "-t", "loop", "-f", "/img", "--poll"}),
            "--poll: not an option of the loop target");
  EXPECT_EQ(ErrorOf({"add", "-t", "null", "--poll"}),
            "--poll: not an option of the null target");
}

}  // namespace
}  // namespace ublk

// The reference server's spellings of add's options, and what each means.
#include <gtest/gtest.h>

#include "options.h"

namespace ublk {
namespace {

Result<DeviceSpec> SpecOf(std::vector<std::string> args) {
  auto r = ParseCommandLine(args);
  if (!r) return r.error();
  return std::get<AddCommand>(*r).spec;
}

std::string ErrorOf(std::vector<std::string> args) {
  auto r = ParseCommandLine(args);
  return r.ok() ? "" : r.error().message();
}

Recovery RecoveryOf(std::vector<std::string> args) {
  auto s = SpecOf(std::move(args));
  EXPECT_TRUE(s.ok()) << s.error().message();
  return s ? s->recovery : Recovery::kOff;
}

TEST(ReferenceOptions, RecoveryValuesMapToTheKernelsModes) {
  EXPECT_EQ(RecoveryOf({"add", "-t", "null", "-r", "1"}),
            Recovery::kFailInflight);
  EXPECT_EQ(RecoveryOf({"add", "-t", "null", "-r1"}), Recovery::kFailInflight);
  EXPECT_EQ(RecoveryOf({"add", "-t", "null", "--user_recovery", "1"}),
            Recovery::kFailInflight);
  EXPECT_EQ(RecoveryOf({"add", "-t", "null", "-r", "0"}), Recovery::kOff);
  EXPECT_EQ(RecoveryOf({"add", "-t", "null", "-r", "1", "-i", "1"}),
            Recovery::kReissue);
  EXPECT_EQ(RecoveryOf({"add", "-t", "null", "-i", "1"}), Recovery::kReissue);
  EXPECT_EQ(RecoveryOf({"add", "-t", "null", "-e", "1"}), Recovery::kFailIo);
  EXPECT_EQ(RecoveryOf({"add", "-t", "null", "-e", "0", "-i", "0"}),
            Recovery::kOff);
  // A bare -r keeps its meaning, and does not swallow the next argument.
  EXPECT_EQ(RecoveryOf({"add", "-t", "null", "-r"}), Recovery::kReissue);
  EXPECT_EQ(RecoveryOf({"add", "-r", "-t", "null"}), Recovery::kReissue);
  EXPECT_EQ(RecoveryOf({"add", "-t", "null", "--recovery-mode",
                        "fail-inflight"}),
            Recovery::kFailInflight);
}

TEST(ReferenceOptions, ConflictingOrBadRecoveryValuesAreOneLine) {
  EXPECT_EQ(ErrorOf({"add", "-t", "null", "-i", "1", "-e", "1"}).find(
                "-i 1 and -e 1 exclude each other"),
            0u);
  EXPECT_EQ(ErrorOf({"add", "-t", "null", "-e", "2"}),
            "-e 2: must be 0 or 1");
  EXPECT_EQ(ErrorOf({"add", "-t", "null", "-i"}), "add: -i needs a value");
}

TEST(ReferenceOptions, DataPathWordsFillTheSpec) {
  auto s = SpecOf({"add", "-t", "loop", "-f", "/img", "--usercopy", "-u",
                   "1"});
  ASSERT_TRUE(s.ok()) << s.error().message();
  EXPECT_TRUE(s->user_copy);
  s = SpecOf({"add", "-t", "loop", "-f", "/img", "-g", "1"});
  ASSERT_TRUE(s.ok()) << s.error().message();
  EXPECT_TRUE(s->need_get_data);
  s = SpecOf({"add", "-t", "loop", "-f", "/img", "--shmem_zc", "--htlb",
              "/dev/hugepages/buf"});
  ASSERT_TRUE(s.ok()) << s.error().message();
  EXPECT_TRUE(s->shmem_zc);
  EXPECT_EQ(s->shmem_file, "/dev/hugepages/buf");
  s = SpecOf({"add", "-t", "loop", "-f", "/img", "--zerocopy"});
  ASSERT_TRUE(s.ok()) << s.error().message();
  EXPECT_EQ(s->zero_copy, ZeroCopy::kAuto);
  s = SpecOf({"add", "-t", "null", "-b"});
  ASSERT_TRUE(s.ok()) << s.error().message();
  EXPECT_EQ(s->batch, Batch::kOn);
  s = SpecOf({"add", "-t", "null", "--batch=off"});
  ASSERT_TRUE(s.ok()) << s.error().message();
  EXPECT_EQ(s->batch, Batch::kOff);
  s = SpecOf({"add", "-t", "null", "--batch-io"});
  ASSERT_TRUE(s.ok()) << s.error().message();
  EXPECT_EQ(s->batch, Batch::kOn);
  EXPECT_EQ(SpecOf({"add", "-t", "null"})->batch, Batch::kBest);
  EXPECT_EQ(ErrorOf({"add", "-t", "null", "--batch=yes"}),
            "--batch=yes: must be on or off");
  EXPECT_EQ(ErrorOf({"add", "-t", "null", "-u", "yes"}),
            "-u yes: must be 0 or 1");
}

TEST(ReferenceOptions, LoopOffsetCountsSectorsWhenBareAndBuffered_ioIsBuffered) {
  auto s = SpecOf({"add", "-t", "loop", "-f", "/img", "--offset", "8",
                   "--buffered_io"});
  ASSERT_TRUE(s.ok()) << s.error().message();
  const OptionValue* off = s->options.Find("offset");
  ASSERT_NE(off, nullptr);
  EXPECT_EQ(std::get<uint64_t>(*off), 4096u);
  const OptionValue* buffered = s->options.Find("buffered");
  ASSERT_NE(buffered, nullptr);
  EXPECT_TRUE(std::get<bool>(*buffered));
  s = SpecOf({"add", "-t", "loop", "-f", "/img", "--offset", "4096B"});
  ASSERT_TRUE(s.ok()) << s.error().message();
  EXPECT_EQ(std::get<uint64_t>(*s->options.Find("offset")), 4096u);
  EXPECT_EQ(ErrorOf({"add", "-t", "null", "--buffered_io"}),
            "--buffered_io: not an option of the null target");
}

TEST(ReferenceOptions, MaxIoBufBytes) {
  auto s = SpecOf({"add", "-t", "null", "--max_io_buf_bytes", "65536"});
  ASSERT_TRUE(s.ok()) << s.error().message();
  EXPECT_EQ(s->max_io_bytes, 65536u);
  EXPECT_EQ(ErrorOf({"add", "-t", "null", "--max_io_buf_bytes", "5000"}),
            "--max_io_buf_bytes 5000: must be a multiple of 4096");
}

}  // namespace
}  // namespace ublk

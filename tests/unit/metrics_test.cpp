// The metrics file's layout and math: buckets, percentiles, samples, and
// the file a server writes and `ublk stats` reads.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "metrics_file.h"
#include "metrics_sample.h"

namespace ublk {
namespace {

using metrics::BucketOf;
using metrics::kBuckets;

TEST(MetricsBuckets, BoundsAreInclusivePowersOfTwoMicroseconds) {
  EXPECT_EQ(BucketOf(0), 0u);
  EXPECT_EQ(BucketOf(1000), 0u);  // 1 us: the first bucket's bound
  EXPECT_EQ(BucketOf(1001), 1u);
  EXPECT_EQ(BucketOf(2000), 1u);
  EXPECT_EQ(BucketOf(2001), 2u);
  EXPECT_EQ(BucketOf(4000), 2u);
  EXPECT_EQ(BucketOf(1000000), 10u);  // 1 ms <= 1024 us
  for (unsigned b = 0; b + 1 < kBuckets; ++b) {
    EXPECT_EQ(BucketOf(metrics::BucketUpperNs(b)), b);
    EXPECT_EQ(BucketOf(metrics::BucketUpperNs(b) + 1), b + 1);
  }
  EXPECT_EQ(BucketOf(uint64_t{60} * 1000000000), kBuckets - 1);  // a minute
  EXPECT_EQ(BucketOf(~uint64_t{0}), kBuckets - 1);
}

TEST(MetricsOps, ZoneCommandsCountAsZoneManagement) {
  EXPECT_EQ(metrics::OpOf(abi::kOpRead), metrics::kRead);
  EXPECT_EQ(metrics::OpOf(abi::kOpWriteZeroes), metrics::kWriteZeroes);
  EXPECT_EQ(metrics::OpOf(abi::kOpZoneReset), metrics::kZoneMgmt);
  EXPECT_EQ(metrics::OpOf(abi::kOpZoneResetAll), metrics::kZoneMgmt);
  EXPECT_EQ(metrics::OpOf(abi::kOpZoneAppend), metrics::kZoneAppend);
  EXPECT_EQ(metrics::OpOf(abi::kOpReportZones), metrics::kReportZones);
  EXPECT_EQ(metrics::OpOf(abi::kOpWriteSame), metrics::kOther);
}

TEST(MetricsLayout, QueueBlocksKeepToTheirOwnCacheLines) {
  EXPECT_EQ(sizeof(metrics::QueueBlock) % 64, 0u);
  EXPECT_EQ(sizeof(metrics::FileHeader) % 64, 0u);
}

std::array<uint64_t, kBuckets> Histogram(
    std::initializer_list<std::pair<unsigned, uint64_t>> counts) {
  std::array<uint64_t, kBuckets> h{};
  for (auto [b, n] : counts) h[b] = n;
  return h;
}

TEST(Percentile, EmptyHistogramIsZero) {
  EXPECT_EQ(PercentileUs(Histogram({}), 0.5), 0.0);
}

TEST(Percentile, InterpolatesInsideTheBucket) {
  // 100 requests in (2, 4] us: the median lies halfway.
  auto h = Histogram({{2, 100}});
  EXPECT_DOUBLE_EQ(PercentileUs(h, 0.5), 3.0);
  EXPECT_DOUBLE_EQ(PercentileUs(h, 1.0), 4.0);
  // 90 fast (<= 1 us) and 10 in (512, 1024] us.
  h = Histogram({{0, 90}, {10, 10}});
  EXPECT_DOUBLE_EQ(PercentileUs(h, 0.5), 0.5 / 0.9);
  EXPECT_DOUBLE_EQ(PercentileUs(h, 0.9), 1.0);
  EXPECT_DOUBLE_EQ(PercentileUs(h, 0.99), 512 + 512 * 0.9);
  EXPECT_DOUBLE_EQ(PercentileUs(h, 0.999), 512 + 512 * 0.99);
}

TEST(Percentile, TheOpenLastBucketGivesItsLowerBound) {
  auto h = Histogram({{0, 1}, {kBuckets - 1, 1}});
  EXPECT_DOUBLE_EQ(PercentileUs(h, 0.99), double(uint64_t{1} << (kBuckets - 2)));
}

DeviceSample TwoQueues() {
  DeviceSample s;
  s.pid = 7;
  s.queues.resize(2);
  s.queues[0].started = 10;
  s.queues[0].finished = 8;
  s.queues[0].ops[metrics::kRead].requests = 8;
  s.queues[0].ops[metrics::kRead].bytes = 8 * 4096;
  s.queues[0].ops[metrics::kRead].buckets[1] = 8;
  s.queues[1].started = s.queues[1].finished = 5;
  s.queues[1].ops[metrics::kWrite].requests = 5;
  s.queues[1].ops[metrics::kWrite].errors = 2;
  s.queues[1].errnos[ENOSPC] = 2;
  return s;
}

TEST(StatsSample, TotalAddsTheQueuesUp) {
  QueueSample t = Total(TwoQueues());
  EXPECT_EQ(t.in_flight(), 2u);
  EXPECT_EQ(t.ops[metrics::kRead].requests, 8u);
  EXPECT_EQ(t.ops[metrics::kWrite].errors, 2u);
  EXPECT_EQ(t.errnos[ENOSPC], 2u);
  EXPECT_EQ(t.ops[metrics::kRead].buckets[1], 8u);
}

TEST(StatsSample, DeltaCountsTheIntervalAndKeepsInFlight) {
  DeviceSample before = TwoQueues(), after = TwoQueues();
  before.taken_ns = 1000;
  after.queues[0].started = 14;
  after.queues[0].ops[metrics::kRead].requests = 11;
  after.queues[0].ops[metrics::kRead].buckets[1] = 11;
  DeviceSample d = Delta(after, before);
  EXPECT_EQ(d.queues[0].ops[metrics::kRead].requests, 3u);
  EXPECT_EQ(d.queues[0].ops[metrics::kRead].buckets[1], 3u);
  EXPECT_EQ(d.queues[1].ops[metrics::kWrite].requests, 0u);
  EXPECT_EQ(d.queues[0].in_flight(), 6u);
  EXPECT_EQ(d.started_ns, 1000u);
}

TEST(StatsSample, DeltaAfterANewServerCountsFromZero) {
  DeviceSample before = TwoQueues(), after = TwoQueues();
  after.pid = 8;
  after.queues[0].ops[metrics::kRead].requests = 2;
  EXPECT_EQ(Delta(after, before).queues[0].ops[metrics::kRead].requests, 2u);
}

TEST(ErrnoName, NamesTheErrno) {
  EXPECT_EQ(ErrnoName(ENOSPC), "ENOSPC");
  EXPECT_EQ(ErrnoName(0), "other");
}

class MetricsFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ublk-metrics-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST_F(MetricsFileTest, ReaderSeesWhatTheQueuesWrite) {
  auto file = MetricsFile::Create(dir_, 4, 2, "scratch");
  ASSERT_TRUE(file.ok()) << file.error().message();
  metrics::Add(file->queue(1)->ops[metrics::kWrite].requests, 3);
  metrics::Add(file->queue(1)->started, 4);
  auto view = MetricsView::Open(dir_, 4);
  ASSERT_TRUE(view.ok()) << view.error().message();
  DeviceSample s = TakeSample(view->header(), view->blocks());
  EXPECT_EQ(s.dev_id, 4u);
  EXPECT_EQ(s.name, "scratch");
  EXPECT_EQ(s.pid, getpid());
  ASSERT_EQ(s.queues.size(), 2u);
  EXPECT_EQ(s.queues[1].ops[metrics::kWrite].requests, 3u);
  EXPECT_EQ(s.queues[1].in_flight(), 4u);
  EXPECT_EQ(s.queues[0].in_flight(), 0u);
  // Live: a later write shows in the same mapping.
  metrics::Add(file->queue(1)->ops[metrics::kWrite].requests, 1);
  EXPECT_EQ(TakeSample(view->header(), view->blocks()).queues[1].ops[metrics::kWrite].requests, 4u);
}

TEST_F(MetricsFileTest, AMissingFileIsEnoent) {
  auto view = MetricsView::Open(dir_, 9);
  ASSERT_FALSE(view.ok());
  EXPECT_EQ(view.error().code().value(), ENOENT);
}

TEST_F(MetricsFileTest, AnotherLayoutVersionIsRefusedInOneLine) {
  ASSERT_TRUE(MetricsFile::Create(dir_, 0, 1, "").ok());
  int fd = ::open(MetricsPath(dir_, 0).c_str(), O_WRONLY);
  ASSERT_GE(fd, 0);
  const uint32_t v2 = 2;
  ASSERT_EQ(::pwrite(fd, &v2, sizeof(v2), offsetof(metrics::FileHeader, version)),
            4);
  ::close(fd);
  auto view = MetricsView::Open(dir_, 0);
  ASSERT_FALSE(view.ok());
  EXPECT_EQ(view.error().message(),
            "metrics file " + MetricsPath(dir_, 0) +
                " has layout version 2, this ublk reads version 1 (server and "
                "ublk from different releases?); not used");
}

TEST_F(MetricsFileTest, AFileThatIsNotOursIsRefused) {
  int fd = ::open(MetricsPath(dir_, 0).c_str(), O_WRONLY | O_CREAT, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, std::string(4096, 'x').data(), 4096), 4096);
  ::close(fd);
  auto view = MetricsView::Open(dir_, 0);
  ASSERT_FALSE(view.ok());
  EXPECT_NE(view.error().message().find("bad magic"), std::string::npos);
}

TEST_F(MetricsFileTest, ANewServerReplacesTheFile) {
  auto first = MetricsFile::Create(dir_, 1, 1, "");
  ASSERT_TRUE(first.ok());
  metrics::Add(first->queue(0)->ops[metrics::kRead].requests, 5);
  auto second = MetricsFile::Create(dir_, 1, 1, "");
  ASSERT_TRUE(second.ok());
  auto view = MetricsView::Open(dir_, 1);
  ASSERT_TRUE(view.ok());
  EXPECT_EQ(TakeSample(view->header(), view->blocks()).queues[0].ops[metrics::kRead].requests, 0u);
}

}  // namespace
}  // namespace ublk

// ThreadPlan: which thread serves which tags of which queue (--threads), on
// which CPUs (--cpus), and which layouts are refused.
#include "thread_plan.h"

#include <gtest/gtest.h>

#include <vector>

#include "ublk/abi.h"

namespace ublk {
namespace {

// Every tag of every queue is owned by exactly one thread.
void ExpectEveryTagOwnedOnce(uint16_t queues, uint16_t threads,
                             uint16_t depth) {
  const auto plan = PlanThreads(queues, threads);
  ASSERT_EQ(plan.size(), threads < queues ? queues : threads);
  for (uint16_t q = 0; q < queues; ++q) {
    unsigned owned_sum = 0;
    for (uint16_t tag = 0; tag < depth; ++tag) {
      unsigned owners = 0;
      for (const ThreadShare& s : plan)
        if (s.queue == q && s.Owns(tag)) ++owners;
      EXPECT_EQ(owners, 1u) << "queues " << queues << " threads " << threads
                            << " queue " << q << " tag " << tag;
    }
    for (const ThreadShare& s : plan)
      if (s.queue == q) owned_sum += s.OwnedOf(depth);
    EXPECT_EQ(owned_sum, depth);
  }
}

TEST(ThreadPlan, EveryTagBelongsToExactlyOneThread) {
  for (uint16_t queues : {1, 2, 3, 4})
    for (uint16_t threads = queues; threads <= 9; ++threads)
      for (uint16_t depth : {1, 2, 5, 64, 128})
        if (threads <= queues * depth)
          ExpectEveryTagOwnedOnce(queues, threads, depth);
}

TEST(ThreadPlan, ThreadTServesQueueTModQueuesAndTheSharesInterleaveTags) {
  const auto plan = PlanThreads(2, 5);
  // Queue 0: threads 0, 2, 4; queue 1: threads 1, 3.
  EXPECT_EQ(plan[0].queue, 0);
  EXPECT_EQ(plan[1].queue, 1);
  EXPECT_EQ(plan[4].queue, 0);
  EXPECT_EQ(plan[4].share, 2);
  EXPECT_EQ(plan[4].shares, 3);
  EXPECT_EQ(plan[3].shares, 2);
  EXPECT_TRUE(plan[2].Owns(1));
  EXPECT_TRUE(plan[2].Owns(4));
  EXPECT_FALSE(plan[2].Owns(2));
  // One thread per queue: it owns them all.
  for (const ThreadShare& s : PlanThreads(4, 0)) {
    EXPECT_EQ(s.shares, 1);
    EXPECT_TRUE(s.Owns(0) && s.Owns(127));
  }
}

TEST(ThreadPlan, CpusGivenPinEachThreadToOneRoundRobin) {
  const auto plan = PlanThreads(1, 3);
  const std::vector<uint16_t> cpus = {2, 5};
  // The device's id does not move a thread off the CPU given for it.
  for (uint32_t dev : {0u, 7u}) {
    EXPECT_EQ(ThreadCpus(dev, 0, plan[0], cpus, {0, 1}), std::vector<int>{2});
    EXPECT_EQ(ThreadCpus(dev, 1, plan[1], cpus, {0, 1}), std::vector<int>{5});
    EXPECT_EQ(ThreadCpus(dev, 2, plan[2], cpus, {0, 1}), std::vector<int>{2});
  }
}

TEST(ThreadPlan, WithoutCpusAQueuesThreadsSpreadOverItsAffinity) {
  const auto two = PlanThreads(1, 3);
  EXPECT_EQ(ThreadCpus(0, 0, two[0], {}, {0, 1}), std::vector<int>{0});
  EXPECT_EQ(ThreadCpus(0, 1, two[1], {}, {0, 1}), std::vector<int>{1});
  EXPECT_EQ(ThreadCpus(0, 2, two[2], {}, {0, 1}), std::vector<int>{0});
  EXPECT_TRUE(ThreadCpus(0, 1, two[1], {}, {}).empty());
}

TEST(ThreadPlan, WithoutCpusEachThreadRunsOnOneCpuOfItsQueue) {
  // A queue with one CPU: its thread there, whatever the device.
  const auto four = PlanThreads(4, 0);
  for (uint32_t dev : {0u, 1u, 5u})
    for (uint16_t t = 0; t < 4; ++t)
      EXPECT_EQ(ThreadCpus(dev, t, four[t], {}, {t + 4}),
                std::vector<int>{t + 4});
  // One queue over two CPUs: one-queue devices take turns, by id.
  const auto one = PlanThreads(1, 0);
  EXPECT_EQ(ThreadCpus(0, 0, one[0], {}, {2, 3}), std::vector<int>{2});
  EXPECT_EQ(ThreadCpus(1, 0, one[0], {}, {2, 3}), std::vector<int>{3});
  EXPECT_EQ(ThreadCpus(2, 0, one[0], {}, {2, 3}), std::vector<int>{2});
  // Several threads of a queue start at the device's turn.
  const auto two = PlanThreads(1, 2);
  EXPECT_EQ(ThreadCpus(1, 0, two[0], {}, {0, 1, 2}), std::vector<int>{1});
  EXPECT_EQ(ThreadCpus(1, 1, two[1], {}, {0, 1, 2}), std::vector<int>{2});
}

DeviceSpec Spec(uint16_t queues, uint16_t threads) {
  DeviceSpec s;
  s.type = "null";
  s.queues = queues;
  s.depth = 4;
  s.threads = threads;
  return s;
}

std::string Refusal(uint64_t features, const DeviceSpec& s,
                    bool one_per_queue = false) {
  auto r = CheckThreads(features, s, one_per_queue, 4);
  return r ? std::string() : r.error().message();
}

TEST(ThreadPlan, LayoutsTheKernelOrTargetCannotServeAreRefusedInOneLine) {
  const uint64_t per_io = abi::kFPerIoDaemon;
  EXPECT_EQ(Refusal(0, Spec(2, 0)), "");
  EXPECT_EQ(Refusal(0, Spec(2, 2)), "");
  EXPECT_EQ(Refusal(per_io, Spec(2, 4)), "");
  EXPECT_NE(Refusal(0, Spec(2, 4)).find("PER_IO_DAEMON (Linux 6.16"),
            std::string::npos);
  EXPECT_NE(Refusal(per_io, Spec(2, 1)).find("fewer threads than queues"),
            std::string::npos);
  EXPECT_NE(Refusal(per_io, Spec(1, 5)).find("more threads than tags"),
            std::string::npos);
  EXPECT_NE(Refusal(per_io, Spec(1, 2), true).find("one connection"),
            std::string::npos);
  DeviceSpec batch = Spec(1, 2);
  batch.batch = Batch::kOn;
  EXPECT_NE(Refusal(per_io | abi::kFBatchIo, batch).find("--batch"),
            std::string::npos);
  DeviceSpec cpus = Spec(1, 0);
  cpus.cpus = {1, 4};
  EXPECT_NE(Refusal(0, cpus).find("CPU 4 does not exist"), std::string::npos);
  for (const DeviceSpec& s : {Spec(2, 4), Spec(2, 1), Spec(1, 5)}) {
    const std::string m = Refusal(0, s);
    EXPECT_EQ(m.find('\n'), std::string::npos) << m;
    EXPECT_EQ(m.rfind("--threads ", 0), 0u) << m;
  }
}

TEST(ThreadPlan, CpuListsParseAsRangesAndFormatBack) {
  auto c = ParseCpuList("0-2,5,7-8");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(*c, (std::vector<uint16_t>{0, 1, 2, 5, 7, 8}));
  EXPECT_EQ(FormatCpuList(*c), "0-2,5,7-8");
  EXPECT_EQ(*ParseCpuList("3,1"), (std::vector<uint16_t>{3, 1}));
  for (const char* bad : {"", "a", "1-", "3-1", "1,,2", "1,", "1,1", "-1",
                          "99999", "1 2"}) {
    auto r = ParseCpuList(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_EQ(r.error().message().rfind("--cpus ", 0), 0u);
    }
  }
}

}  // namespace
}  // namespace ublk

#include "thread_plan.h"

#include <algorithm>
#include <charconv>
#include <fstream>
#include <string>

#include "ublk/abi.h"

namespace ublk {

std::vector<ThreadShare> PlanThreads(uint16_t queues, uint16_t threads) {
  if (threads < queues) threads = queues;
  std::vector<ThreadShare> plan(threads);
  for (uint16_t t = 0; t < threads; ++t) {
    const uint16_t q = static_cast<uint16_t>(t % queues);
    // Threads q, q + queues, q + 2 * queues, ... serve queue q.
    const uint16_t shares =
        static_cast<uint16_t>(threads / queues + (q < threads % queues ? 1 : 0));
    plan[t] = {q, static_cast<uint16_t>(t / queues), shares};
  }
  return plan;
}

std::vector<int> ThreadCpus(uint32_t dev_id, uint16_t t,
                            const ThreadShare& share,
                            const std::vector<uint16_t>& cpus,
                            const std::vector<int>& affinity) {
  if (!cpus.empty()) return {cpus[t % cpus.size()]};
  if (affinity.empty()) return {};
  return {affinity[(dev_id + share.share) % affinity.size()]};
}

Result<void> CheckThreads(uint64_t kernel_features, const DeviceSpec& spec,
                          bool one_thread_per_queue, int possible_cpus) {
  for (uint16_t cpu : spec.cpus)
    if (cpu >= possible_cpus)
      return Invalid("--cpus " + FormatCpuList(spec.cpus) + ": CPU " +
                     std::to_string(cpu) + " does not exist (this machine has " +
                     std::to_string(possible_cpus) + ")");
  if (spec.threads == 0 || spec.threads == spec.queues) return {};
  const std::string what = "--threads " + std::to_string(spec.threads);
  if (spec.threads < spec.queues)
    return Invalid(what + ": fewer threads than queues (" +
                   std::to_string(spec.queues) +
                   ") is not supported, each ring serves one queue; use -q " +
                   std::to_string(spec.threads));
  if (spec.threads > uint32_t{spec.queues} * spec.depth)
    return Invalid(what + ": more threads than tags (" +
                   std::to_string(spec.queues) + " queues of depth " +
                   std::to_string(spec.depth) + ")");
  if (one_thread_per_queue)
    return Invalid(what + ": the " + spec.type +
                   " target serves each queue over one connection, so it "
                   "takes one thread per queue; use -q to add connections");
  if (spec.batch == Batch::kOn)
    return Invalid(what + ": more threads than queues cannot be combined "
                          "with batch commands (--batch): the kernel gives up "
                          "UBLK_F_PER_IO_DAEMON for UBLK_F_BATCH_IO");
  if (!(kernel_features & abi::kFPerIoDaemon))
    return Invalid(what + ": more threads than queues need the ublk feature "
                          "UBLK_F_PER_IO_DAEMON (Linux 6.16 or later), which "
                          "this kernel lacks; use -q " +
                   std::to_string(spec.threads) + " for one thread per queue");
  return {};
}

Result<std::vector<uint16_t>> ParseCpuList(const std::string& text) {
  std::vector<uint16_t> out;
  const auto bad = [&](const std::string& why) {
    return Invalid("--cpus " + (text.empty() ? std::string("''") : text) +
                   ": " + why);
  };
  if (text.empty()) return bad("needs a CPU list such as 0-3,6");
  const char* p = text.data();
  const char* end = p + text.size();
  while (p < end) {
    unsigned lo = 0, hi = 0;
    auto r = std::from_chars(p, end, lo);
    if (r.ec != std::errc()) return bad("not a CPU list such as 0-3,6");
    p = r.ptr;
    hi = lo;
    if (p < end && *p == '-') {
      r = std::from_chars(p + 1, end, hi);
      if (r.ec != std::errc()) return bad("not a CPU list such as 0-3,6");
      p = r.ptr;
    }
    if (hi < lo) return bad("a range must go upwards");
    if (hi >= kMaxCpu) return bad("CPU " + std::to_string(hi) + " is too large");
    for (unsigned c = lo; c <= hi; ++c) {
      if (std::find(out.begin(), out.end(), c) != out.end())
        return bad("CPU " + std::to_string(c) + " is listed twice");
      out.push_back(static_cast<uint16_t>(c));
    }
    if (p < end) {
      if (*p != ',' || p + 1 == end) return bad("not a CPU list such as 0-3,6");
      ++p;
    }
  }
  return out;
}

int PossibleCpus() {
  std::ifstream in("/sys/devices/system/cpu/possible");
  std::string text;
  if (!(in >> text)) return 1;
  auto cpus = ParseCpuList(text);
  if (!cpus || cpus->empty()) return 1;
  return *std::max_element(cpus->begin(), cpus->end()) + 1;
}

std::string FormatCpuList(const std::vector<uint16_t>& cpus) {
  std::string out;
  for (size_t i = 0; i < cpus.size();) {
    size_t j = i;
    while (j + 1 < cpus.size() && cpus[j + 1] == cpus[j] + 1) ++j;
    if (!out.empty()) out += ',';
    out += std::to_string(cpus[i]);
    if (j > i) out += '-' + std::to_string(cpus[j]);
    i = j + 1;
  }
  return out;
}

}  // namespace ublk

// user_data: the one place that packs and unpacks an SQE's user_data.
//
// A CQE carries nothing but user_data and a result, so everything a queue
// thread needs to route a completion lives in these 64 bits:
//   bits  0-15  tag (queue depth is at most 4096)
//   bits 16-23  kind: which protocol step completed (UserOp)
//   bits 24-39  target data: free for the target (e.g. which sub-I/O)
//   bits 40-55  queue id (at most 4096 queues)
// Pure constexpr; any thread.
#pragma once

#include <cstdint>

#include "ublk/abi.h"

namespace ublk {

enum class UserOp : uint8_t {
  kFetch = 1,        // FETCH_REQ / COMMIT_AND_FETCH_REQ / NEED_GET_DATA
  kTarget = 2,       // a backend I/O queued by the target
  kStopEvent = 3,    // the queue's stop eventfd became readable
  kBufCmd = 4,       // a failed REGISTER_IO_BUF (target data 0) or
                     // UNREGISTER_IO_BUF (1); their successes post nothing
  kCopy = 5,         // user copy: a WRITE's data read from /dev/ublkcN
                     // (target data 0) or a READ's written to it (1)
  kTargetQueue = 6,  // a backend I/O of the queue as a whole, not of one
                     // request (a connection's receive); tag unused
  kBatchFetch = 7,   // BATCH_IO: the queue's multishot FETCH_IO_CMDS
  kBatchCommit = 8,  // BATCH_IO: PREP_IO_CMDS / COMMIT_IO_CMDS; target
                     // data = the element slot
};

struct UserData {
  uint16_t tag;
  UserOp op;
  uint16_t target_data;
  uint16_t queue;

  friend constexpr bool operator==(const UserData&, const UserData&) = default;
};

inline constexpr unsigned kTagBits = 16;
inline constexpr unsigned kOpBits = 8;
inline constexpr unsigned kTargetDataBits = 16;
inline constexpr unsigned kQueueBits = 16;
static_assert(kTagBits + kOpBits + kTargetDataBits + kQueueBits <= 64);
static_assert(abi::kMaxQueueDepth <= (1u << kTagBits));
static_assert(abi::kMaxQueues <= (1u << kQueueBits));

constexpr uint64_t EncodeUserData(const UserData& d) {
  return static_cast<uint64_t>(d.tag) |
         static_cast<uint64_t>(static_cast<uint8_t>(d.op)) << kTagBits |
         static_cast<uint64_t>(d.target_data) << (kTagBits + kOpBits) |
         static_cast<uint64_t>(d.queue)
             << (kTagBits + kOpBits + kTargetDataBits);
}

constexpr UserData DecodeUserData(uint64_t v) {
  return UserData{
      static_cast<uint16_t>(v & 0xffff),
      static_cast<UserOp>((v >> kTagBits) & 0xff),
      static_cast<uint16_t>((v >> (kTagBits + kOpBits)) & 0xffff),
      static_cast<uint16_t>((v >> (kTagBits + kOpBits + kTargetDataBits)) &
                            0xffff),
  };
}

}  // namespace ublk

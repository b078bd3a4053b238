// UBLK_F_* feature bits: their names, and which ones a device asks for.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "queue.h"
#include "ublk/target.h"

namespace ublk {

// Names of the set bits, lowest first ("USER_COPY", ...); unknown bits come
// out as "BIT_n".
std::vector<std::string> FeatureNames(uint64_t flags);

struct FlagChoice {
  uint64_t flags;  // what ADD_DEV asks for
  DataPath data_path;
};

// Picks the flags for ADD_DEV from what the kernel supports and what the
// target touches: a target that never touches data runs in user-copy mode
// where available, so the kernel copies nothing.
FlagChoice ChooseFlags(uint64_t kernel_features, DataAccess access);

}  // namespace ublk

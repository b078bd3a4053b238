// UBLK_F_* feature bits: their names, and which ones a device asks for.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data_path.h"
#include "ublk/result.h"
#include "ublk/spec.h"
#include "ublk/target.h"

namespace ublk {

// Names of the set bits, lowest first ("USER_COPY", ...); unknown bits come
// out as "BIT_n".
std::vector<std::string> FeatureNames(uint64_t flags);

struct FlagChoice {
  uint64_t flags;  // what ADD_DEV asks for
  DataPath data_path;
};

// Picks the flags for ADD_DEV from what the kernel supports, what the target
// touches and what the user asked: a target that never touches data runs in
// user-copy mode where available, so the kernel copies nothing (and -z means
// nothing to it); a target that does runs zero-copy in the mode asked for
// (kBest: automatic registration where the kernel has it, else copy). Zero
// copy asked for on a kernel without it is an error (one line naming the
// feature and the kernel version needed), never a silent fallback.
//
// The spec may also ask for a data path of its own: user copy (-u:
// USER_COPY, the queue moves the data through /dev/ublkcN; a target that
// never touches data keeps its copy-free mode), NEED_GET_DATA (-g: copy mode
// in two steps) or shared-memory zero copy (--shmem_zc). Each excludes the
// others and zero copy (-z); a combination, a feature the kernel lacks or
// --htlb without --shmem_zc is refused in one line naming the UBLK_F_ flag
// and the Linux version that has it. The server and `ublk add` (before it
// starts anything) both call this.
Result<FlagChoice> ChooseFlags(uint64_t kernel_features, DataAccess access,
                               const DeviceSpec& spec);
// For a device whose requests carry integrity data (`what` describes it,
// e.g. "/dev/ng0n1 has 8 bytes of metadata per block (T10-DIF-TYPE1-CRC)"):
// INTEGRITY with user copy, the only data path the kernel hands integrity
// buffers to, chosen without being asked. A kernel without INTEGRITY or
// USER_COPY, or a spec asking for another data path (-z, -g, --shmem_zc),
// is refused in one line.
// For a zoned device (`what` names it): ZONED with zero copy as for any
// device (-z, or not asked and the kernel has AUTO_BUF_REG), else with user
// copy (--usercopy, -z off, older kernels); the kernel takes ZONED with
// nothing else. With --batch, user copy unless explicit zero copy is asked
// (the kernel's batch commit mishandles a zone append's sector with
// automatic registration). A kernel without ZONED, zero copy asked of a
// kernel without it, -z with --batch, or -g / --shmem_zc is refused in one
// line.
Result<FlagChoice> ChooseZonedFlags(uint64_t kernel_features,
                                    const DeviceSpec& spec,
                                    const std::string& what);
Result<FlagChoice> ChooseIntegrityFlags(uint64_t kernel_features,
                                        const DeviceSpec& spec,
                                        const std::string& what);
// UBLK_F_BATCH_IO when the queues are to use batch commands, else 0: only
// when asked (--batch); not asked (kBest) keeps the per-tag commands, which
// batch did not measure ahead of (the .cpp says where). --batch on a kernel
// without it, or with NEED_GET_DATA (-g, which batch commands do not
// carry), is refused in one line.
Result<uint64_t> BatchFlags(uint64_t kernel_features, const DeviceSpec& spec);

// The same for a spec that asks only for a zero-copy mode.
Result<FlagChoice> ChooseFlags(uint64_t kernel_features, DataAccess access,
                               ZeroCopy zero_copy);

}  // namespace ublk

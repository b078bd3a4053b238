#include "nvme_probe.h"

#include "nvme_pi.h"
#include "nvme_zoned.h"

#include <libnvme.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <regex>
#include <vector>

namespace ublk {
namespace {

uint64_t ReadSysfsNumber(const std::string& path, uint64_t fallback) {
  std::ifstream in(path);
  uint64_t v = 0;
  return (in >> v) ? v : fallback;
}

std::string BaseName(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// Resolves PATH to the namespace's char device, or explains why not.
Result<std::string> CharDevicePath(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0)
    return SysError(errno, path);
  const std::string name = BaseName(path);
  if (S_ISBLK(st.st_mode)) {
    std::string generic = GenericNameForBlock(name);
    if (generic.empty())
      return Invalid(path + " is not an NVMe namespace (want /dev/ngXnY or "
                            "/dev/nvmeXnY)");
    return "/dev/" + generic;
  }
  if (!S_ISCHR(st.st_mode))
    return Invalid(path + " is not a device (want /dev/ngXnY or /dev/nvmeXnY)");
  if (std::regex_match(name, std::regex("nvme[0-9]+")))
    return Invalid(path + " is an NVMe controller, not a namespace (want "
                          "/dev/ngXnY, e.g. /dev/ng" + name.substr(4) + "n1)");
  return path;
}

// Zone size, limits and capacity of a zoned namespace (Identify for the
// Zoned command set, and one report of its first zones).
Result<void> DescribeZones(int fd, unsigned format, NvmeNamespace* ns) {
  nvme_zns_id_ns id{};
  if (nvme_zns_identify_ns(fd, ns->nsid, &id) != 0)
    return Invalid("Identify Namespace (Zoned command set) on " +
                   ns->char_path + " failed");
  nvme_zns_id_ctrl ctrl{};
  if (nvme_zns_identify_ctrl(fd, &ctrl) != 0)
    return Invalid("Identify Controller (Zoned command set) for " +
                   ns->char_path + " failed");
  auto& z = ns->zones;
  z.zone_blocks = id.lbafe[format].zsze;
  if (z.zone_blocks == 0 || z.zone_blocks > ns->blocks)
    return Invalid(ns->char_path + " reports a zone size of " +
                   std::to_string(z.zone_blocks) + " blocks");
  if (id.lbafe[format].zdes != 0)
    return Invalid(ns->char_path + " has zone descriptor extensions, which "
                                   "the nvme target does not serve");
  z.max_open = nvme::ZoneLimit(id.mor);
  z.max_active = nvme::ZoneLimit(id.mar);
  z.append_bytes = nvme::ZoneAppendBytes(ctrl.zasl, ns->max_io_bytes);
  // Capacity from the zones' descriptors: the same in each, or "differs".
  const uint64_t zones = ns->blocks / z.zone_blocks;
  const uint32_t asked = static_cast<uint32_t>(std::min<uint64_t>(zones, 4095));
  std::vector<uint8_t> buf((asked + 1) * nvme::kZoneReportEntry);
  if (nvme_zns_report_zones(fd, ns->nsid, 0, NVME_ZNS_ZRAS_REPORT_ALL, false,
                            true, static_cast<uint32_t>(buf.size()),
                            buf.data(), NVME_DEFAULT_IOCTL_TIMEOUT,
                            nullptr) != 0)
    return Invalid("Zone Management Receive on " + ns->char_path + " failed");
  uint64_t count = 0;
  std::memcpy(&count, buf.data(), sizeof(count));
  count = std::min<uint64_t>(count, asked);
  for (uint64_t i = 0; i < count; ++i) {
    uint64_t cap = 0;
    std::memcpy(&cap, buf.data() + nvme::kZoneReportEntry * (i + 1) + 8,
                sizeof(cap));
    if (i == 0) z.capacity_blocks = cap;
    else if (cap != z.capacity_blocks) z.capacity_blocks = 0;
  }
  return {};
}

}  // namespace

std::string GenericNameForBlock(const std::string& name) {
  std::smatch m;
  static const std::regex kNamespace("nvme([0-9]+n[0-9]+)");
  if (!std::regex_match(name, m, kNamespace)) return "";
  return "ng" + m[1].str();
}

int CommandSetOf(const uint8_t* list, size_t len) {
  constexpr uint8_t kTypeCsi = 4;
  size_t at = 0;
  while (at + 4 <= len && list[at] != 0) {
    const uint8_t type = list[at], length = list[at + 1];
    if (at + 4 + length > len) break;
    if (type == kTypeCsi && length >= 1) return list[at + 4];
    at += 4 + length;
  }
  return -1;
}

unsigned LbaFormatIndex(uint8_t flbas) {
  return (flbas & 0x0f) | ((flbas & 0x60) >> 1);
}

Result<NvmeNamespace> OpenNvmeNamespace(const std::string& path,
                                        bool read_only, Fd* fd) {
  auto char_path = CharDevicePath(path);
  if (!char_path) return char_path.error();
  NvmeNamespace ns;
  ns.char_path = *char_path;
  ns.read_only = read_only;

  auto opened = Fd::Open(ns.char_path, read_only ? O_RDONLY : O_RDWR);
  if (!opened) {
    int err = opened.error().code().value();
    if (err == EACCES || err == EPERM)
      return Error(opened.error().code(),
                   "permission denied opening " + ns.char_path +
                       ": needs root, or " +
                       (read_only ? "read" : "write") +
                       " access to the node on a kernel that allows "
                       "unprivileged passthrough");
    return opened.error();
  }
  if (nvme_get_nsid(opened->get(), &ns.nsid) != 0)
    return Invalid(path + " is not an NVMe namespace (" +
                   std::string(std::strerror(errno)) + ")");

  // The NVM command set becomes a conventional disk, the Zoned one a
  // host-managed zoned disk; no other fits a block device.
  alignas(8) uint8_t descs[NVME_IDENTIFY_DATA_SIZE] = {};
  bool zoned = false;
  if (nvme_identify_ns_descs(opened->get(), ns.nsid,
                             reinterpret_cast<nvme_ns_id_desc*>(descs)) == 0) {
    const int csi = CommandSetOf(descs, sizeof(descs));
    zoned = csi == NVME_CSI_ZNS;
    if (csi > 0 && !zoned)
      return Invalid(ns.char_path + " uses NVMe command set " +
                     std::to_string(csi) +
                     ", not the NVM or Zoned command set the nvme target "
                     "serves");
  }

  nvme_id_ns id{};
  int ret = nvme_identify_ns(opened->get(), ns.nsid, &id);
  if (ret < 0) return SysError(errno, "Identify Namespace on " + ns.char_path);
  if (ret > 0)
    return Invalid("Identify Namespace on " + ns.char_path +
                   " failed with NVMe status " + std::to_string(ret));
  const unsigned format = LbaFormatIndex(id.flbas);
  const nvme_lbaf& lbaf = id.lbaf[format];
  if (lbaf.ds < 9 || lbaf.ds > 12)
    return Invalid(ns.char_path + ": logical block size 2^" +
                   std::to_string(lbaf.ds) + " is not supported (512-4096)");
  ns.lba_shift = lbaf.ds;
  ns.blocks = id.nsze;
  if (ns.blocks == 0) return Invalid(ns.char_path + " has no capacity");

  nvme_id_ctrl ctrl{};
  ret = nvme_identify_ctrl(opened->get(), &ctrl);
  if (ret != 0)
    return Invalid("Identify Controller for " + ns.char_path + " failed");
  nvme::FormatFacts facts;
  facts.ms = lbaf.ms;
  facts.extended = id.flbas & NVME_NS_FLBAS_META_EXT;
  facts.dps = id.dps;
  if (facts.ms != 0 && (facts.dps & NVME_NS_DPS_PI_MASK) &&
      (ctrl.ctratt & NVME_CTRL_CTRATT_ELBAS)) {
    // Extended LBA formats: the guard size and storage tag of the format
    // are in the NVM command set's Identify Namespace.
    nvme_nvm_id_ns nvm{};
    if (nvme_identify_ns_csi(opened->get(), ns.nsid, 0, NVME_CSI_NVM, &nvm) != 0)
      return Invalid("Identify Namespace (NVM command set) on " +
                     ns.char_path + " failed");
    const uint32_t elbaf = nvm.elbaf[format];
    facts.sts = elbaf & NVME_NVM_ELBAF_STS_MASK;
    facts.pif = (elbaf & NVME_NVM_ELBAF_PIF_MASK) >> 7;
  }
  auto pi = nvme::DescribePi(facts, ns.char_path);
  if (!pi) return pi.error();
  ns.pi = *pi;

  // MDTS is a power of two in units of the minimum memory page size, which
  // is 4 KiB on every controller we can reach through a 4 KiB-page host.
  uint64_t mdts_bytes = ctrl.mdts ? (4096ULL << ctrl.mdts) : (1ULL << 31);
  ns.volatile_cache = ctrl.vwc & 1;
  ns.write_zeroes = ctrl.oncs & (1 << 3);
  ns.deallocate = ctrl.oncs & (1 << 2);

  // The kernel's own limit for this namespace (MDTS combined with the
  // transport's); passthrough commands obey it too.
  const std::string block = "nvme" + BaseName(ns.char_path).substr(2);
  const std::string queue = "/sys/block/" + block + "/queue/";
  uint64_t hw_bytes = ReadSysfsNumber(queue + "max_hw_sectors_kb", 0) * 1024;
  uint64_t max = mdts_bytes;
  if (hw_bytes != 0 && hw_bytes < max) max = hw_bytes;
  if (max > (1u << 30)) max = 1u << 30;
  ns.max_io_bytes = static_cast<uint32_t>(max & ~uint64_t{4095});
  ns.physical_block = static_cast<uint32_t>(
      ReadSysfsNumber(queue + "physical_block_size", 1u << ns.lba_shift));
  ns.max_discard_bytes = ReadSysfsNumber(queue + "discard_max_hw_bytes", 0);
  ns.max_write_zeroes_bytes =
      ReadSysfsNumber(queue + "write_zeroes_max_bytes", 0);
  ns.virt_boundary_mask = ReadSysfsNumber(queue + "virt_boundary_mask", 0);
  ns.dma_alignment =
      static_cast<uint32_t>(ReadSysfsNumber(queue + "dma_alignment", 0));
  ns.max_segments =
      static_cast<uint32_t>(ReadSysfsNumber(queue + "max_segments", 0));
  ns.max_segment_size =
      static_cast<uint32_t>(ReadSysfsNumber(queue + "max_segment_size", 0));
  ns.poll_queues = ReadSysfsNumber(queue + "io_poll", 0) != 0;
  ns.block_name = block;
  if (zoned) UBLK_RETURN_IF_ERROR(DescribeZones(opened->get(), format, &ns));
  *fd = std::move(*opened);
  return ns;
}

}  // namespace ublk

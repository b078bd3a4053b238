#include "options.h"

#include "thread_plan.h"

#include <charconv>

#include "config_file.h"
#include "option_table.h"
#include "registry.h"
#include "spec_json.h"
#include "thread_plan.h"
#include "size.h"
#include "ublk/abi.h"

namespace ublk {
namespace {

// Whether an option has a value: never, always (inline or the next
// argument), or optionally: inline only ("-zauto", "--zero-copy=auto"; a bare
// option leaves the value empty, so a following argument is never taken), or
// for kOptionalBit also a following "0" or "1" ("-r 1", the reference
// server's spelling, beside a bare "-r").
enum Value : uint8_t { kNoValue, kValue, kOptionalValue, kOptionalBit };

struct OptionDef {
  char short_name;  // 0 if none
  std::string_view long_name;
  Value value;
  // Whether only some target types take it (TargetTakes decides).
  bool backend = false;
  // Another spelling of the option of this long name (the reference
  // server's "--buffered_io" for "--buffered"): parsed as that one.
  std::string_view same_as{};
};

struct ParsedOption {
  const OptionDef* def;
  std::string value;
  std::string spelled;  // as the user wrote it, for messages
};

// Splits args into recognised options; positional arguments are refused.
Result<std::vector<ParsedOption>> Tokenize(const std::string& command,
                                           const std::vector<std::string>& args,
                                           const std::vector<OptionDef>& defs) {
  std::vector<ParsedOption> out;
  auto unknown = [&](const std::string& a) {
    return Invalid(command + ": unknown option '" + a + "' (see 'ublk help " +
                   command + "')");
  };
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    const OptionDef* def = nullptr;
    std::string value;
    bool has_inline = false;
    if (a.rfind("--", 0) == 0 && a.size() > 2) {
      std::string name = a.substr(2);
      if (auto eq = name.find('='); eq != std::string::npos) {
        value = name.substr(eq + 1);
        name = name.substr(0, eq);
        has_inline = true;
      }
      for (const auto& d : defs)
        if (name == d.long_name) def = &d;
    } else if (a.size() >= 2 && a[0] == '-' && a[1] != '-') {
      for (const auto& d : defs)
        if (d.short_name == a[1]) def = &d;
      if (def && a.size() > 2) {
        value = a.substr(2);
        has_inline = true;
      }
    } else {
      return Invalid(command + ": unexpected argument '" + a +
                     "' (see 'ublk help " + command + "')");
    }
    if (def == nullptr) return unknown(a);
    std::string spelled = a.rfind("--", 0) == 0
                              ? "--" + std::string(def->long_name)
                              : std::string("-") + def->short_name;
    if (!def->same_as.empty())
      for (const auto& d : defs)
        if (d.long_name == def->same_as) def = &d;
    if (def->value == kValue && !has_inline) {
      if (i + 1 >= args.size())
        return Invalid(command + ": " + spelled + " needs a value");
      value = args[++i];
    } else if (def->value == kOptionalBit && !has_inline) {
      if (i + 1 < args.size() && (args[i + 1] == "0" || args[i + 1] == "1"))
        value = args[++i];
    } else if (def->value == kNoValue && has_inline) {
      return Invalid(command + ": " + spelled + " takes no value");
    }
    out.push_back({def, value, spelled});
  }
  return out;
}

Result<uint64_t> ParseNumber(const ParsedOption& o, uint64_t min,
                             uint64_t max) {
  uint64_t v = 0;
  const char* begin = o.value.data();
  const char* end = begin + o.value.size();
  auto [ptr, ec] = std::from_chars(begin, end, v);
  if (o.value.empty() || ec != std::errc() || ptr != end || v < min || v > max)
    return Invalid(o.spelled + " " + (o.value.empty() ? "''" : o.value) +
                   ": must be a whole number from " + std::to_string(min) +
                   " to " + std::to_string(max));
  return v;
}

// The reference server's on/off options: "0" or "1".
Result<bool> ParseBit(const ParsedOption& o) {
  if (o.value != "0" && o.value != "1")
    return Invalid(o.spelled + " " + (o.value.empty() ? "''" : o.value) +
                   ": must be 0 or 1");
  return o.value == "1";
}

// What -r, -r 0|1, -i 0|1, -e 0|1 and --recovery-mode asked for.
struct RecoveryWords {
  bool bare = false;     // -r: reissue
  bool plain = false;    // -r 1: USER_RECOVERY alone
  bool reissue = false;  // -i 1
  bool fail_io = false;  // -e 1
  std::optional<Recovery> mode;

  Result<Recovery> Settle() const {
    if (reissue && fail_io)
      return Invalid(
          "-i 1 and -e 1 exclude each other: while no server runs, I/O "
          "either waits and is reissued (-i) or fails (-e)");
    if (mode && (reissue || fail_io || plain))
      return Invalid("--recovery-mode: give it or -r 1/-i 1/-e 1, not both");
    if (mode) return *mode;
    if (fail_io) return Recovery::kFailIo;
    if (reissue || bare) return Recovery::kReissue;
    if (plain) return Recovery::kFailInflight;
    return Recovery::kOff;
  }
};

// --max_io_buf_bytes: what the spec JSON takes.
constexpr uint64_t kMaxIoBufBytes = 32u << 20;

// Device ids: the kernel allows 2^20 minors.
constexpr uint64_t kMaxDevId = (1u << 20) - 1;

// add's options: the common ones, the testing ones, and every target
// type's own (each type is then asked which of the backend ones it takes).
const std::vector<OptionDef>& AddOptionDefs() {
  static const std::vector<OptionDef> defs = [] {
    std::vector<OptionDef> d = {
        {'t', "type", kValue},
        {'n', "number", kValue},
        {'q', "queues", kValue},
        {'d', "depth", kValue},
        {0, "name", kValue},
        {0, "size", kValue, true},
        {'f', "file", kValue, true},
        {0, "read-only", kNoValue, true},
        {'z', "zero-copy", kOptionalValue, true},
        {0, "foreground", kNoValue},
        {0, "json", kNoValue},
        {0, "config", kValue},
        {'h', "help", kNoValue},
        {'r', "recovery", kOptionalBit},
        {0, "recovery-mode", kValue},
        {0, "max_io_buf_bytes", kValue},
        {0, "usercopy", kNoValue},
        {0, "shmem_zc", kNoValue},
        {0, "htlb", kValue},
        {0, "no-partition-scan", kNoValue},
        {0, "metrics", kValue},
        {0, "metrics-file", kValue},
        {0, "poll-us", kValue},
        {0, "threads", kValue},
        {0, "cpus", kValue},
        // The reference server's spellings.
        {'u', "uring_comp", kValue},
        {'g', "need_get_data", kValue},
        {'i', "user_recovery_reissue", kValue},
        {'e', "user_recovery_fail_io", kValue},
        {'b', "batch", kOptionalValue},
        {0, "batch-io", kOptionalValue, false, "batch"},
        {0, "user_recovery", kValue, false, "recovery"},
        {0, "zerocopy", kNoValue, true, "zero-copy"},
        {0, "buffered_io", kNoValue, true, "buffered"},
        {0, "stall-before-start", kValue},
        {0, "stall-before-stop", kValue},
        {0, "force-auto-fallback", kNoValue},
    };
    for (const TargetType& t : TargetTypes())
      for (const TargetOptionDef& o : t.options) {
        bool known = false;
        for (const OptionDef& e : d) known = known || e.long_name == o.name;
        if (!known)
          d.push_back({0, o.name,
                       o.kind == OptionKind::kFlag ? kNoValue : kValue, true});
      }
    return d;
  }();
  return defs;
}

// A target option's text as the kind its row declares; CheckOptionValue
// then checks the value.
Result<OptionValue> ParseOptionText(const TargetOptionDef& def,
                                    const ParsedOption& o) {
  switch (def.kind) {
    case OptionKind::kFlag:
      return OptionValue(true);
    case OptionKind::kSize: {
      auto v = ParseSize(o.value);
      if (!v) return v.error().Wrap(o.spelled);
      const bool bare = !o.value.empty() &&
                        o.value.find_first_not_of("0123456789") ==
                            std::string::npos;
      if (def.bare_is_sectors && bare) {
        if (*v > UINT64_MAX / 512)
          return Invalid(o.spelled + " " + o.value + ": too large");
        return OptionValue(*v * 512);
      }
      return OptionValue(*v);
    }
    case OptionKind::kNumber: {
      uint64_t v = 0;
      const char* end = o.value.data() + o.value.size();
      auto [ptr, ec] = std::from_chars(o.value.data(), end, v);
      if (o.value.empty() || ec != std::errc() || ptr != end)
        return OptionValue(o.value);  // CheckOptionValue names what fits
      return OptionValue(v);
    }
    case OptionKind::kChoice:
      return OptionValue(o.value);
  }
  return Invalid(o.spelled + ": unknown kind");
}

Error UnknownType(const std::string& name) {
  std::string known;
  for (const auto& t : TargetTypes())
    known += (known.empty() ? "" : ", ") + std::string(t.name);
  return Invalid("add: unknown target type '" + name + "' (known: " + known +
                 ")");
}

// What a configuration key's value must be, from its option's kind.
enum class KeyType { kString, kInteger, kSize, kBoolean, kBit, kZeroCopy };

KeyType ConfigKeyType(const OptionDef& def) {
  const std::string_view name = def.long_name;
  if (def.value == kNoValue || def.value == kOptionalBit)
    return KeyType::kBoolean;
  if (def.value == kOptionalValue) return KeyType::kZeroCopy;
  if (name == "number" || name == "queues" || name == "depth" ||
      name == "max_io_buf_bytes")
    return KeyType::kInteger;
  if (name == "size") return KeyType::kSize;
  if (name == "uring_comp" || name == "need_get_data" ||
      name == "user_recovery_reissue" || name == "user_recovery_fail_io")
    return KeyType::kBit;
  for (const TargetType& t : TargetTypes())
    if (const TargetOptionDef* o = FindOptionDef(t.options, name)) {
      if (o->kind == OptionKind::kSize) return KeyType::kSize;
      if (o->kind == OptionKind::kNumber) return KeyType::kInteger;
    }
  return KeyType::kString;
}

// Keys a configuration file may not hold: how the command runs rather
// than what the device is, the testing knobs, and second spellings.
bool ConfigKeyAllowed(const OptionDef& def) {
  static constexpr std::string_view kNot[] = {
      "help", "json", "config", "foreground", "stall-before-start",
      "stall-before-stop", "force-auto-fallback"};
  for (std::string_view n : kNot)
    if (def.long_name == n) return false;
  return def.same_as.empty();
}

// The options a configuration file (`add --config FILE`) gives, as if they
// stood on the command line before the others (so those override them).
// Messages name the file, the line and the key.
Result<std::vector<ParsedOption>> ConfigOptions(const std::string& path) {
  auto entries = ReadConfigFile(path);
  if (!entries) return entries.error();
  std::vector<ParsedOption> out;
  for (const ConfigEntry& e : *entries) {
    const std::string where = path + ":" + std::to_string(e.line) + ": ";
    const OptionDef* def = nullptr;
    for (const OptionDef& d : AddOptionDefs())
      if (d.long_name == e.key) def = &d;
    if (def == nullptr || !ConfigKeyAllowed(*def))
      return Invalid(where + "unknown key '" + e.key +
                     "' (the keys are the long options of 'ublk add'; see "
                     "'ublk help add')");
    auto wrong = [&](const char* want) {
      return Invalid(where + "key '" + e.key + "' must be " + want +
                     ", not " +
                     (e.type == ConfigEntry::Type::kString ? "a string"
                      : e.type == ConfigEntry::Type::kInteger ? "a number"
                                                              : "a boolean"));
    };
    using T = ConfigEntry::Type;
    ParsedOption o{def, e.text, where + e.key};
    switch (ConfigKeyType(*def)) {
      case KeyType::kString:
        if (e.type != T::kString) return wrong("a quoted string");
        break;
      case KeyType::kInteger:
        if (e.type != T::kInteger) return wrong("a whole number");
        break;
      case KeyType::kSize:
        if (e.type == T::kBoolean)
          return wrong("a size (a number of bytes, or a string like \"10G\")");
        break;
      case KeyType::kBoolean:
        if (e.type != T::kBoolean) return wrong("true or false");
        if (!e.boolean) continue;  // the option left out
        o.value.clear();           // a bare -r: reissue
        break;
      case KeyType::kBit:
        if (e.type != T::kBoolean) return wrong("true or false");
        o.value = e.boolean ? "1" : "0";
        break;
      case KeyType::kZeroCopy:
        if (e.type == T::kInteger) return wrong("true, false or a mode");
        if (e.type == T::kBoolean)
          o.value = e.boolean ? (def->long_name == "batch" ? "on" : "auto")
                              : "off";
        break;
    }
    out.push_back(std::move(o));
  }
  return out;
}

// The file name without folder and ".toml": /etc/ublk/data.toml -> data.
std::string ConfigStem(const std::string& path) {
  std::string base = path.substr(path.rfind('/') + 1);
  if (base.size() > 5 && base.compare(base.size() - 5, 5, ".toml") == 0)
    base.resize(base.size() - 5);
  return base;
}

Result<Command> ParseAdd(const std::vector<std::string>& args) {
  auto opts = Tokenize("add", args, AddOptionDefs());
  if (!opts) return opts.error();
  // A configuration file's options come first, so that the command line's
  // override them.
  std::string config;
  bool named = false;
  for (const auto& o : *opts) {
    if (o.def->long_name == "config") {
      if (!config.empty()) return Invalid("add: give --config once");
      if (o.value.empty()) return Invalid("--config: needs a file");
      config = o.value;
    }
    named = named || o.def->long_name == "name";
  }
  if (!config.empty()) {
    auto from_file = ConfigOptions(config);
    if (!from_file) return from_file.error();
    for (const auto& o : *from_file) named = named || o.def->long_name == "name";
    opts->insert(opts->begin(), from_file->begin(), from_file->end());
  }
  // The type first: what else is allowed depends on it, wherever it stands.
  std::string type_name;
  bool help = false;
  for (const auto& o : *opts) {
    if (o.def->long_name == "type") type_name = o.value;
    if (o.def->long_name == "help") help = true;
  }
  const TargetType* type = FindTargetType(type_name);
  if (!type_name.empty() && type == nullptr) return UnknownType(type_name);
  if (help) return Command(HelpCommand{"add", type_name});
  if (type == nullptr && !config.empty())
    return Invalid(config + ": missing required key 'type' (for example "
                   "type = \"loop\")");
  if (type == nullptr)
    return Invalid("add: -t TYPE is required (see 'ublk help add')");
  AddCommand cmd;
  cmd.spec.type = type_name;
  // A device described by /etc/ublk/NAME.toml is called NAME unless it
  // says otherwise (the name ublk@NAME.service and the udev links use).
  if (!config.empty() && !named) cmd.spec.name = ConfigStem(config);
  // Recovery as asked by -r, -r 0|1, -i 0|1, -e 0|1 and --recovery-mode;
  // settled once every option is read.
  RecoveryWords recovery;
  for (const auto& o : *opts) {
    const std::string_view name = o.def->long_name;
    if (o.def->backend && !TargetTakes(*type, name))
      return NotAnOption(o.spelled, *type);
    if (const TargetOptionDef* def = FindOptionDef(type->options, name)) {
      auto v = ParseOptionText(*def, o);
      if (!v) return v.error();
      UBLK_RETURN_IF_ERROR(CheckOptionValue(*def, *v));
      cmd.spec.options.Set(std::string(name), std::move(*v));
    } else if (name == "number") {
      auto v = ParseNumber(o, 0, kMaxDevId);
      if (!v) return v.error();
      cmd.spec.id = static_cast<uint32_t>(*v);
    } else if (name == "queues") {
      auto v = ParseNumber(o, 1, abi::kMaxQueues);
      if (!v) return v.error();
      cmd.spec.queues = static_cast<uint16_t>(*v);
    } else if (name == "depth") {
      auto v = ParseNumber(o, 1, abi::kMaxQueueDepth);
      if (!v) return v.error();
      cmd.spec.depth = static_cast<uint16_t>(*v);
      cmd.depth_given = true;
    } else if (name == "name") {
      cmd.spec.name = o.value;
    } else if (name == "size") {
      auto v = ParseSize(o.value);
      if (!v) return v.error().Wrap("--size");
      if (*v == 0 || *v % 512 != 0)
        return Invalid("--size " + o.value +
                       ": must be a positive multiple of 512 bytes");
      cmd.spec.size = *v;
    } else if (name == "file") {
      cmd.spec.file = o.value;
    } else if (name == "read-only") {
      cmd.spec.read_only = true;
    } else if (name == "zero-copy") {
      auto mode = ParseZeroCopy(o.value.empty() ? "auto" : o.value);
      if (!mode || *mode == ZeroCopy::kBest)
        return Invalid(o.spelled + "=" + o.value +
                       ": must be auto, explicit or off");
      cmd.spec.zero_copy = *mode;
    } else if (name == "recovery") {
      if (o.value.empty()) {
        recovery.bare = true;
      } else {
        auto v = ParseBit(o);
        if (!v) return v.error();
        recovery.plain = *v;
      }
    } else if (name == "user_recovery_reissue" ||
               name == "user_recovery_fail_io") {
      auto v = ParseBit(o);
      if (!v) return v.error();
      (name == "user_recovery_reissue" ? recovery.reissue
                                       : recovery.fail_io) = *v;
    } else if (name == "recovery-mode") {
      auto mode = ParseRecovery(o.value);
      if (!mode || *mode == Recovery::kOff)
        return Invalid(o.spelled + " " + (o.value.empty() ? "''" : o.value) +
                       ": must be reissue, fail-io or fail-inflight");
      recovery.mode = *mode;
    } else if (name == "uring_comp") {
      // Every kernel this server runs on completes commands in the
      // issuing task (URING_CMD_COMP_IN_TASK) anyway: both values are
      // what happens.
      auto v = ParseBit(o);
      if (!v) return v.error();
    } else if (name == "need_get_data") {
      auto v = ParseBit(o);
      if (!v) return v.error();
      cmd.spec.need_get_data = *v;
    } else if (name == "usercopy") {
      cmd.spec.user_copy = true;
    } else if (name == "batch") {
      if (o.value.empty() || o.value == "on")
        cmd.spec.batch = Batch::kOn;
      else if (o.value == "off")
        cmd.spec.batch = Batch::kOff;
      else
        return Invalid(o.spelled + "=" + o.value + ": must be on or off");
    } else if (name == "shmem_zc") {
      cmd.spec.shmem_zc = true;
    } else if (name == "no-partition-scan") {
      cmd.spec.no_partition_scan = true;
    } else if (name == "metrics") {
      if (o.value != "on" && o.value != "off")
        return Invalid(o.spelled + " " + (o.value.empty() ? "''" : o.value) +
                       ": must be on or off");
      cmd.spec.metrics = o.value == "on";
    } else if (name == "metrics-file") {
      // The server runs elsewhere (cwd /): a relative path would mislead.
      if (o.value.empty() || o.value[0] != '/')
        return Invalid(o.spelled + " " + (o.value.empty() ? "''" : o.value) +
                       ": must be an absolute path");
      cmd.spec.metrics_textfile = o.value;
    } else if (name == "poll-us") {
      auto v = ParseNumber(o, 0, kMaxPollUs);
      if (!v) return v.error();
      cmd.spec.poll_us = static_cast<uint32_t>(*v);
    } else if (name == "threads") {
      auto v = ParseNumber(o, 1, kMaxThreads);
      if (!v) return v.error();
      cmd.spec.threads = static_cast<uint16_t>(*v);
    } else if (name == "cpus") {
      auto cpus = ParseCpuList(o.value);
      if (!cpus) return cpus.error();
      cmd.spec.cpus = std::move(*cpus);
    } else if (name == "htlb") {
      if (o.value.empty()) return Invalid(o.spelled + ": needs a path");
      cmd.spec.shmem_file = o.value;
    } else if (name == "max_io_buf_bytes") {
      auto v = ParseNumber(o, 4096, kMaxIoBufBytes);
      if (!v) return v.error();
      if (*v % 4096 != 0)
        return Invalid(o.spelled + " " + o.value +
                       ": must be a multiple of 4096");
      cmd.spec.max_io_bytes = static_cast<uint32_t>(*v);
    } else if (name == "stall-before-start" || name == "stall-before-stop") {
      auto v = ParseNumber(o, 0, kMaxStallSeconds);
      if (!v) return v.error();
      (name == "stall-before-start" ? cmd.spec.testing.stall_before_start_s
                                    : cmd.spec.testing.stall_before_stop_s) =
          static_cast<uint32_t>(*v);
    } else if (name == "force-auto-fallback") {
      cmd.spec.testing.force_auto_fallback = true;
    } else if (name == "foreground") {
      cmd.foreground = true;
    } else if (name == "json") {
      cmd.json = true;
    }
  }
  if (!config.empty() && type->file == FileUse::kRequired &&
      cmd.spec.file.empty())
    return Invalid(config + ": missing required key 'file' (the " +
                   std::string(type->name) + " target needs " +
                   std::string(type->file_needed) + ")");
  auto mode = recovery.Settle();
  if (!mode) return mode.error();
  cmd.spec.recovery = *mode;
  if (!cmd.spec.shmem_file.empty() && !cmd.spec.shmem_zc)
    return Invalid("--htlb: only with --shmem_zc");
  if (!cmd.spec.metrics_textfile.empty() && !cmd.spec.metrics)
    return Invalid("--metrics-file: not with --metrics=off");
  UBLK_RETURN_IF_ERROR(CheckSpecOptions(*type, cmd.spec));
  return Command(std::move(cmd));
}

const std::vector<OptionDef>& DelOptionDefs() {
  static const std::vector<OptionDef> defs = {
      {'n', "number", kValue}, {'a', "all", kNoValue}, {0, "safe", kNoValue},
      {'h', "help", kNoValue}};
  return defs;
}

const std::vector<OptionDef>& RecoverOptionDefs() {
  static const std::vector<OptionDef> defs = {
      {'n', "number", kValue}, {0, "json", kNoValue}, {'h', "help", kNoValue}};
  return defs;
}

const std::vector<OptionDef>& RestartOptionDefs() {
  static const std::vector<OptionDef> defs = {
      {'n', "number", kValue}, {0, "name", kValue}, {'h', "help", kNoValue}};
  return defs;
}

const std::vector<OptionDef>& ResizeOptionDefs() {
  static const std::vector<OptionDef> defs = {{'n', "number", kValue},
                                              {0, "name", kValue},
                                              {0, "size", kValue},
                                              {'h', "help", kNoValue}};
  return defs;
}

const std::vector<OptionDef>& ListOptionDefs() {
  // -v: the reference server's verbose list, which dumps its JSON.
  static const std::vector<OptionDef> defs = {
      {'n', "number", kValue},
      {0, "json", kNoValue},
      {'v', "verbose", kNoValue, false, "json"},
      {'h', "help", kNoValue}};
  return defs;
}

const std::vector<OptionDef>& FeaturesOptionDefs() {
  static const std::vector<OptionDef> defs = {{0, "json", kNoValue},
                                              {'h', "help", kNoValue}};
  return defs;
}

Result<Command> ParseDel(const std::vector<std::string>& args) {
  auto opts = Tokenize("del", args, DelOptionDefs());
  if (!opts) return opts.error();
  DelCommand cmd;
  for (const auto& o : *opts) {
    std::string name(o.def->long_name);
    if (name == "help") return Command(HelpCommand{"del"});
    if (name == "all") cmd.all = true;
    if (name == "safe") cmd.safe = true;
    if (name == "number") {
      auto v = ParseNumber(o, 0, kMaxDevId);
      if (!v) return v.error();
      cmd.id = static_cast<uint32_t>(*v);
    }
  }
  if (cmd.all == cmd.id.has_value())
    return Invalid("del: give exactly one of -n ID or -a");
  return Command(cmd);
}

Result<Command> ParseRecover(const std::vector<std::string>& args) {
  auto opts = Tokenize("recover", args, RecoverOptionDefs());
  if (!opts) return opts.error();
  RecoverCommand cmd;
  bool have_id = false;
  for (const auto& o : *opts) {
    std::string name(o.def->long_name);
    if (name == "help") return Command(HelpCommand{"recover"});
    if (name == "json") cmd.json = true;
    if (name == "number") {
      auto v = ParseNumber(o, 0, kMaxDevId);
      if (!v) return v.error();
      cmd.id = static_cast<uint32_t>(*v);
      have_id = true;
    }
  }
  if (!have_id) return Invalid("recover: -n ID is required");
  return Command(cmd);
}

// -n ID or --name NAME, exactly one, into *id / *name.
Result<void> TakeDeviceRef(const std::string& command,
                           const std::vector<ParsedOption>& opts,
                           std::optional<uint32_t>* id, std::string* name) {
  for (const auto& o : opts) {
    if (o.def->long_name == "number") {
      auto v = ParseNumber(o, 0, kMaxDevId);
      if (!v) return v.error();
      *id = static_cast<uint32_t>(*v);
    } else if (o.def->long_name == "name") {
      if (o.value.empty()) return Invalid(o.spelled + ": needs a name");
      *name = o.value;
    }
  }
  if (id->has_value() == !name->empty())
    return Invalid(command + ": give exactly one of -n ID or --name NAME");
  return {};
}

Result<Command> ParseRestart(const std::vector<std::string>& args) {
  auto opts = Tokenize("restart", args, RestartOptionDefs());
  if (!opts) return opts.error();
  for (const auto& o : *opts)
    if (o.def->long_name == "help") return Command(HelpCommand{"restart"});
  RestartCommand cmd;
  UBLK_RETURN_IF_ERROR(TakeDeviceRef("restart", *opts, &cmd.id, &cmd.name));
  return Command(cmd);
}

const std::vector<OptionDef>& StatsOptionDefs() {
  static const std::vector<OptionDef> defs = {
      {'n', "number", kValue},   {0, "name", kValue},
      {0, "json", kNoValue},     {0, "prometheus", kNoValue},
      {0, "watch", kValue},      {'h', "help", kNoValue}};
  return defs;
}

Result<Command> ParseStats(const std::vector<std::string>& args) {
  auto opts = Tokenize("stats", args, StatsOptionDefs());
  if (!opts) return opts.error();
  StatsCommand cmd;
  bool named = false;
  for (const auto& o : *opts) {
    const std::string_view name = o.def->long_name;
    if (name == "help") return Command(HelpCommand{"stats"});
    if (name == "json") cmd.json = true;
    if (name == "prometheus") cmd.prometheus = true;
    if (name == "number" || name == "name") named = true;
    if (name == "watch") {
      auto v = ParseNumber(o, 1, 3600);
      if (!v) return v.error();
      cmd.watch_s = static_cast<uint32_t>(*v);
    }
  }
  if (named)
    UBLK_RETURN_IF_ERROR(TakeDeviceRef("stats", *opts, &cmd.id, &cmd.name));
  if (cmd.json && cmd.prometheus)
    return Invalid("stats: give --json or --prometheus, not both");
  if (cmd.prometheus && cmd.watch_s != 0)
    return Invalid("stats: --watch does not go with --prometheus (Prometheus "
                   "scrapes when it wants)");
  return Command(cmd);
}

Result<Command> ParseResize(const std::vector<std::string>& args) {
  auto opts = Tokenize("resize", args, ResizeOptionDefs());
  if (!opts) return opts.error();
  ResizeCommand cmd;
  bool sized = false;
  for (const auto& o : *opts) {
    if (o.def->long_name == "help") return Command(HelpCommand{"resize"});
    if (o.def->long_name == "size") {
      auto v = ParseSize(o.value);
      if (!v) return v.error().Wrap("--size");
      if (*v == 0 || *v % 512 != 0)
        return Invalid("--size " + o.value +
                       ": must be a positive multiple of 512 bytes");
      cmd.size = *v;
      sized = true;
    }
  }
  UBLK_RETURN_IF_ERROR(TakeDeviceRef("resize", *opts, &cmd.id, &cmd.name));
  if (!sized) return Invalid("resize: --size SIZE is required");
  return Command(cmd);
}

Result<Command> ParseList(const std::vector<std::string>& args) {
  auto opts = Tokenize("list", args, ListOptionDefs());
  if (!opts) return opts.error();
  ListCommand cmd;
  for (const auto& o : *opts) {
    std::string name(o.def->long_name);
    if (name == "help") return Command(HelpCommand{"list"});
    if (name == "json") cmd.json = true;
    if (name == "number") {
      auto v = ParseNumber(o, 0, kMaxDevId);
      if (!v) return v.error();
      cmd.id = static_cast<uint32_t>(*v);
    }
  }
  return Command(cmd);
}

Result<Command> ParseFeatures(const std::vector<std::string>& args) {
  auto opts = Tokenize("features", args, FeaturesOptionDefs());
  if (!opts) return opts.error();
  FeaturesCommand cmd;
  for (const auto& o : *opts) {
    if (std::string(o.def->long_name) == "help")
      return Command(HelpCommand{"features"});
    cmd.json = true;
  }
  return Command(cmd);
}

// Errors echo the user's words; a control character in them (a newline in
// an argument) must not split the one-line error or drive the terminal.
// Found by tests/fuzz/options_fuzz.
std::string Printable(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    if (c < 0x20 || c == 0x7f) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

Result<Command> ParseWords(const std::vector<std::string>& args) {
  if (args.empty())
    return Invalid("no command given (try 'ublk --help')");
  const std::string& first = args[0];
  std::vector<std::string> rest(args.begin() + 1, args.end());
  if (first == "-h" || first == "--help") return Command(HelpCommand{""});
  if (first == "-V" || first == "--version") return Command(VersionCommand{});
  if (first == "help") {
    // `help add -t TYPE` is `add -t TYPE --help`.
    if (rest.size() > 1 && rest[0] == "add") {
      std::vector<std::string> add(rest.begin() + 1, rest.end());
      add.push_back("--help");
      return ParseAdd(add);
    }
    if (rest.size() > 1) return Invalid("help: give at most one topic");
    std::string topic = rest.empty() ? "" : rest[0];
    if (!topic.empty() && HelpText(topic).empty())
      return Invalid("help: no such command '" + topic + "'");
    return Command(HelpCommand{topic});
  }
  if (first == "add") return ParseAdd(rest);
  if (first == "del") return ParseDel(rest);
  if (first == "list") return ParseList(rest);
  if (first == "recover") return ParseRecover(rest);
  if (first == "restart") return ParseRestart(rest);
  if (first == "resize") return ParseResize(rest);
  if (first == "stats") return ParseStats(rest);
  if (first == "features") return ParseFeatures(rest);
  return Invalid("unknown command '" + first + "' (try 'ublk --help')");
}

}  // namespace

std::vector<std::string> CommandNames() {
  return {"add",     "del",    "list",     "recover",
          "restart", "resize", "stats",    "features", "help"};
}

std::vector<OptionSpelling> CommandOptions(const std::string& command) {
  const std::vector<OptionDef>* defs = nullptr;
  if (command == "add") defs = &AddOptionDefs();
  if (command == "del") defs = &DelOptionDefs();
  if (command == "list") defs = &ListOptionDefs();
  if (command == "recover") defs = &RecoverOptionDefs();
  if (command == "restart") defs = &RestartOptionDefs();
  if (command == "resize") defs = &ResizeOptionDefs();
  if (command == "stats") defs = &StatsOptionDefs();
  if (command == "features") defs = &FeaturesOptionDefs();
  std::vector<OptionSpelling> out;
  if (defs == nullptr) return out;
  for (const OptionDef& d : *defs) {
    // The testing knobs stay out of what the documentation offers.
    if (d.long_name.rfind("stall-", 0) == 0 ||
        d.long_name == "force-auto-fallback")
      continue;
    out.push_back({d.short_name == 0 ? "" : std::string("-") + d.short_name,
                   "--" + std::string(d.long_name), d.value == kValue});
  }
  return out;
}

Result<Command> ParseCommandLine(const std::vector<std::string>& args) {
  auto parsed = ParseWords(args);
  if (!parsed)
    return Error(parsed.error().code(), Printable(parsed.error().message()));
  return parsed;
}

}  // namespace ublk

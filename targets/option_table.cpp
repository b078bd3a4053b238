#include "option_table.h"

namespace ublk {
namespace {

std::string Spelled(const TargetOptionDef& def) {
  return "--" + std::string(def.name);
}

std::string Text(const OptionValue& v) {
  if (const auto* b = std::get_if<bool>(&v)) return *b ? "true" : "false";
  if (const auto* n = std::get_if<uint64_t>(&v)) return std::to_string(*n);
  return "'" + std::get<std::string>(v) + "'";
}

// "512 or 4096", "a, b or c".
template <typename T, typename Show>
std::string OneOf(std::span<const T> items, Show show) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += i + 1 == items.size() ? " or " : ", ";
    out += show(items[i]);
  }
  return out;
}

const char* KindName(OptionKind k) {
  switch (k) {
    case OptionKind::kFlag:
      return "true or false";
    case OptionKind::kSize:
      return "a size in bytes";
    case OptionKind::kNumber:
      return "a whole number";
    case OptionKind::kChoice:
      return "a word";
  }
  return "?";
}

bool KindMatches(OptionKind k, const OptionValue& v) {
  switch (k) {
    case OptionKind::kFlag:
      return std::holds_alternative<bool>(v);
    case OptionKind::kSize:
    case OptionKind::kNumber:
      return std::holds_alternative<uint64_t>(v);
    case OptionKind::kChoice:
      return std::holds_alternative<std::string>(v);
  }
  return false;
}

}  // namespace

const TargetOptionDef* FindOptionDef(std::span<const TargetOptionDef> table,
                                     std::string_view name) {
  for (const TargetOptionDef& d : table)
    if (d.name == name) return &d;
  return nullptr;
}

bool TargetTakes(const TargetType& type, std::string_view long_name) {
  if (long_name == "file") return type.file != FileUse::kNone;
  if (long_name == "size") return type.takes_size;
  if (long_name == "read-only") return type.takes_read_only;
  // Every type: null, which copies nothing anyway, takes -z as the
  // reference server's null does; nbd only with automatic registration
  // (ChooseFlags refuses what a type or the kernel cannot have).
  if (long_name == "zero-copy") return true;
  return FindOptionDef(type.options, long_name) != nullptr;
}

Error NotAnOption(const std::string& spelled, const TargetType& type) {
  return Invalid(spelled + ": not an option of the " + std::string(type.name) +
                 " target");
}

Result<void> CheckOptionValue(const TargetOptionDef& def,
                              const OptionValue& value) {
  const std::string bad = Spelled(def) + " " + Text(value) + ": must be ";
  if (!KindMatches(def.kind, value)) {
    if (def.kind == OptionKind::kNumber && !def.only.empty())
      return Invalid(
          bad + OneOf(def.only, [](uint64_t a) { return std::to_string(a); }));
    return Invalid(bad + KindName(def.kind));
  }
  switch (def.kind) {
    case OptionKind::kFlag:
      return {};
    case OptionKind::kSize:
    case OptionKind::kNumber: {
      const uint64_t n = std::get<uint64_t>(value);
      if (!def.only.empty()) {
        for (uint64_t allowed : def.only)
          if (n == allowed) return {};
        return Invalid(bad + OneOf(def.only, [](uint64_t a) {
                         return std::to_string(a);
                       }));
      }
      if (n < def.min || n > def.max)
        return Invalid(bad + "from " + std::to_string(def.min) + " to " +
                       std::to_string(def.max));
      return {};
    }
    case OptionKind::kChoice: {
      const std::string& word = std::get<std::string>(value);
      for (std::string_view c : def.choices)
        if (word == c) return {};
      return Invalid(bad + OneOf(def.choices, [](std::string_view c) {
                       return std::string(c);
                     }));
    }
  }
  return {};
}

Result<void> CheckSpecOptions(const TargetType& type, const DeviceSpec& spec) {
  for (const auto& [name, value] : spec.options.values()) {
    const TargetOptionDef* def = FindOptionDef(type.options, name);
    if (def == nullptr) return NotAnOption("--" + name, type);
    UBLK_RETURN_IF_ERROR(CheckOptionValue(*def, value));
  }
  if (type.file == FileUse::kNone && !spec.file.empty())
    return NotAnOption("-f", type);
  if (type.file == FileUse::kRequired && spec.file.empty())
    return Invalid("the " + std::string(type.name) + " target needs " +
                   std::string(type.file_needed));
  if (!type.takes_size && spec.size) return NotAnOption("--size", type);
  if (!type.takes_read_only && spec.read_only)
    return NotAnOption("--read-only", type);
  if (!TargetTakes(type, "zero-copy") && spec.zero_copy != ZeroCopy::kBest)
    return NotAnOption("-z", type);
  const TestingOptions& t = spec.testing;
  if (t.stall_before_start_s > kMaxStallSeconds ||
      t.stall_before_stop_s > kMaxStallSeconds)
    return Invalid("--stall-before-start/--stall-before-stop: at most " +
                   std::to_string(kMaxStallSeconds) + " seconds");
  if (t.force_auto_fallback && type.data_access != DataAccess::kBuffer)
    return NotAnOption("--force-auto-fallback", type);
  if (t.force_auto_fallback && spec.zero_copy != ZeroCopy::kAuto)
    return Invalid(
        "--force-auto-fallback needs --zero-copy=auto (it forces automatic "
        "buffer registration's fallback)");
  return {};
}

bool FlagOption(std::span<const TargetOptionDef> table,
                const TargetOptions& given, std::string_view name) {
  (void)table;  // flags default to false
  const OptionValue* v = given.Find(name);
  return v != nullptr && std::get_if<bool>(v) != nullptr && std::get<bool>(*v);
}

uint64_t NumberOption(std::span<const TargetOptionDef> table,
                      const TargetOptions& given, std::string_view name) {
  if (const OptionValue* v = given.Find(name))
    if (const auto* n = std::get_if<uint64_t>(v)) return *n;
  const TargetOptionDef* def = FindOptionDef(table, name);
  return def ? def->default_number : 0;
}

std::string ChoiceOption(std::span<const TargetOptionDef> table,
                         const TargetOptions& given, std::string_view name) {
  if (const OptionValue* v = given.Find(name))
    if (const auto* s = std::get_if<std::string>(v)) return *s;
  const TargetOptionDef* def = FindOptionDef(table, name);
  return def ? std::string(def->default_choice) : "";
}

}  // namespace ublk

#include "json_fields.h"

namespace ublk {
namespace {

using nlohmann::json;

// The field, or nullptr when it is absent; an error when it is required.
Result<const json*> Find(const json& j, const char* key, bool required) {
  if (!j.is_object()) return Invalid("not a JSON object");
  auto it = j.find(key);
  if (it == j.end()) {
    if (required) return Invalid(std::string("missing field \"") + key + "\"");
    return static_cast<const json*>(nullptr);
  }
  return &*it;
}

}  // namespace

Result<void> GetUnsigned(const json& j, const char* key, uint64_t max,
                         uint64_t* out, bool required) {
  auto f = Find(j, key, required);
  if (!f) return f.error();
  if (*f == nullptr) return {};
  const json& v = **f;
  // A built json keeps a signed type for a non-negative int (pid_t); parsed
  // text gives unsigned. Either is fine when it is not negative.
  const bool whole = v.is_number_unsigned() ||
                     (v.is_number_integer() && v.get<int64_t>() >= 0);
  if (!whole || v.get<uint64_t>() > max)
    return Invalid(std::string("field \"") + key +
                   "\" must be a whole number up to " + std::to_string(max));
  *out = v.get<uint64_t>();
  return {};
}

Result<void> GetString(const json& j, const char* key, std::string* out,
                       bool required) {
  auto f = Find(j, key, required);
  if (!f) return f.error();
  if (*f == nullptr) return {};
  if (!(*f)->is_string())
    return Invalid(std::string("field \"") + key + "\" must be a string");
  *out = (*f)->get<std::string>();
  return {};
}

Result<void> GetBool(const json& j, const char* key, bool* out,
                     bool required) {
  auto f = Find(j, key, required);
  if (!f) return f.error();
  if (*f == nullptr) return {};
  if (!(*f)->is_boolean())
    return Invalid(std::string("field \"") + key + "\" must be true or false");
  *out = (*f)->get<bool>();
  return {};
}

Result<void> GetStrings(const json& j, const char* key,
                        std::vector<std::string>* out, bool required) {
  auto f = Find(j, key, required);
  if (!f) return f.error();
  if (*f == nullptr) return {};
  const std::string bad =
      std::string("field \"") + key + "\" must be an array of strings";
  if (!(*f)->is_array()) return Invalid(bad);
  std::vector<std::string> values;
  for (const json& e : **f) {
    if (!e.is_string()) return Invalid(bad);
    values.push_back(e.get<std::string>());
  }
  *out = std::move(values);
  return {};
}

bool IsUtf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    // Sequence length from the lead byte, and the smallest code point that
    // length may encode (longer forms are overlong, so invalid).
    size_t len = 0;
    uint32_t cp = 0, min = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xe0) == 0xc0) {
      len = 2, cp = c & 0x1f, min = 0x80;
    } else if ((c & 0xf0) == 0xe0) {
      len = 3, cp = c & 0x0f, min = 0x800;
    } else if ((c & 0xf8) == 0xf0) {
      len = 4, cp = c & 0x07, min = 0x10000;
    } else {
      return false;
    }
    if (i + len > text.size()) return false;
    for (size_t k = 1; k < len; ++k) {
      const auto cc = static_cast<unsigned char>(text[i + k]);
      if ((cc & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
      return false;
    i += len;
  }
  return true;
}

std::string DumpJson(const json& j, int indent) {
  return j.dump(indent, ' ', /*ensure_ascii=*/false,
                json::error_handler_t::replace);
}

}  // namespace ublk

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

std::string DumpJson(const json& j, int indent) {
  return j.dump(indent, ' ', /*ensure_ascii=*/false,
                json::error_handler_t::replace);
}

}  // namespace ublk

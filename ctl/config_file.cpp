#include "config_file.h"

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <sstream>

// Debian's toml++ is a shared library built with exceptions: its parse
// error is caught here, the one place, and becomes an Error.
#include <toml++/toml.h>

namespace ublk {
namespace {

std::string Where(const std::string& path, const toml::source_region& at) {
  return path + ":" + std::to_string(at.begin.line) + ":";
}

}  // namespace

Result<std::vector<ConfigEntry>> ParseConfigText(const std::string& text,
                                                 const std::string& path) {
  toml::table table;
  try {
    table = toml::parse(text, path);
  } catch (const toml::parse_error& e) {
    return Invalid(Where(path, e.source()) + " not valid TOML: " +
                   std::string(e.description()));
  }
  std::vector<ConfigEntry> out;
  for (auto&& [key, node] : table) {
    ConfigEntry e;
    e.key = std::string(key.str());
    e.line = node.source().begin.line;
    if (auto s = node.as_string()) {
      e.type = ConfigEntry::Type::kString;
      e.text = s->get();
    } else if (auto i = node.as_integer()) {
      e.type = ConfigEntry::Type::kInteger;
      e.text = std::to_string(i->get());
    } else if (auto b = node.as_boolean()) {
      e.type = ConfigEntry::Type::kBoolean;
      e.boolean = b->get();
      e.text = e.boolean ? "true" : "false";
    } else {
      return Invalid(Where(path, node.source()) + " key '" + e.key +
                     "': must be a string, a whole number or true/false "
                     "(the options of 'ublk add' take no tables, arrays, "
                     "floats or dates)");
    }
    out.push_back(std::move(e));
  }
  // toml++ keeps a table's keys sorted; the file's order reads better in
  // messages and lets a later key win as on the command line.
  std::stable_sort(out.begin(), out.end(),
                   [](const ConfigEntry& a, const ConfigEntry& b) {
                     return a.line < b.line;
                   });
  return out;
}

Result<std::vector<ConfigEntry>> ReadConfigFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return SysError(errno, "--config " + path);
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return SysError(errno, "--config " + path);
  return ParseConfigText(text.str(), path);
}

}  // namespace ublk

#include "state_file.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "ublk/fd.h"

namespace ublk {

std::string StateDir() {
  const char* env = std::getenv("UBLK_STATE_DIR");
  return env && *env ? env : kDefaultStateDir;
}

std::string StatePath(const std::string& dir, uint32_t dev_id) {
  return dir + "/" + std::to_string(dev_id) + ".json";
}

Result<void> WriteState(const std::string& dir, const DeviceState& state) {
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST)
    return SysError(errno, "creating " + dir);
  const std::string path = StatePath(dir, state.dev_id);
  const std::string tmp = path + ".tmp";
  const std::string text = StateToJson(state).dump(2) + "\n";
  {
    auto fd = Fd::Open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (!fd) return fd.error();
    size_t done = 0;
    while (done < text.size()) {
      ssize_t n = ::write(fd->get(), text.data() + done, text.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        int err = errno;
        ::unlink(tmp.c_str());
        return SysError(err, "writing " + tmp);
      }
      done += static_cast<size_t>(n);
    }
    if (::fsync(fd->get()) != 0) {
      int err = errno;
      ::unlink(tmp.c_str());
      return SysError(err, "syncing " + tmp);
    }
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return SysError(err, "renaming " + tmp);
  }
  return {};
}

Result<DeviceState> ReadState(const std::string& dir, uint32_t dev_id) {
  const std::string path = StatePath(dir, dev_id);
  std::ifstream in(path);
  if (!in) return SysError(ENOENT, "reading " + path);
  std::stringstream text;
  text << in.rdbuf();
  auto j = ParseJson(text.str(), "state file " + path);
  if (!j) return j.error();
  auto st = StateFromJson(*j);
  if (!st) return st.error().Wrap("state file " + path);
  if (st->dev_id != dev_id)
    return Invalid("state file " + path + " describes device " +
                   std::to_string(st->dev_id));
  return st;
}

void RemoveState(const std::string& dir, uint32_t dev_id) {
  ::unlink(StatePath(dir, dev_id).c_str());
}

}  // namespace ublk

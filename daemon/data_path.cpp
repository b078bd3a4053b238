#include "data_path.h"

namespace ublk {

const char* DataPathName(DataPath path) {
  switch (path) {
    case DataPath::kCopy:
      return "copy";
    case DataPath::kNone:
      return "none";
    case DataPath::kGetData:
      return "copy/get-data";
    case DataPath::kUserCopy:
      return "user-copy";
    case DataPath::kAutoBufReg:
      return "zero-copy/auto";
    case DataPath::kExplicitReg:
      return "zero-copy/explicit";
  }
  return "?";
}

bool IsDataPathName(const std::string& name) {
  for (DataPath p : {DataPath::kCopy, DataPath::kNone, DataPath::kGetData,
                     DataPath::kUserCopy, DataPath::kAutoBufReg,
                     DataPath::kExplicitReg})
    if (name == DataPathName(p)) return true;
  return false;
}

}  // namespace ublk

#include "data_path.h"

namespace ublk {

const char* DataPathName(DataPath path) {
  switch (path) {
    case DataPath::kCopy:
      return "copy";
    case DataPath::kNone:
      return "none";
    case DataPath::kAutoBufReg:
      return "zero-copy/auto";
    case DataPath::kExplicitReg:
      return "zero-copy/explicit";
  }
  return "?";
}

}  // namespace ublk

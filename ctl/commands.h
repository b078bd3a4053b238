// The `ublk` subcommands. Each returns the process exit code and prints its
// own output; errors go to stderr as one line "ublk: ...".
#pragma once

#include "options.h"

namespace ublk {

int RunAdd(const AddCommand& cmd);
int RunDel(const DelCommand& cmd);
int RunList(const ListCommand& cmd);
int RunFeatures(const FeaturesCommand& cmd);

// Prints "ublk: <message>" to stderr and returns 1.
int Fail(const std::string& message);

}  // namespace ublk

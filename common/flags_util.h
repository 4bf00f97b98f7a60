// Lets binaries accept --data-dir as well as --data_dir (Abseil flag names
// cannot hold '-', while ops tooling and ARCHITECTURE.md spell them with one).
#ifndef SYNCWATCH_COMMON_FLAGS_UTIL_H_
#define SYNCWATCH_COMMON_FLAGS_UTIL_H_

#include <string>
#include <vector>

namespace syncwatch {

// Returns argv with '-' inside long flag names turned into '_' ("--data-dir=x"
// -> "--data_dir=x"); values and positional arguments are left alone, and so is
// everything after a bare "--".
std::vector<std::string> NormalizeFlagNames(int argc, char** argv);

}  // namespace syncwatch

#endif  // SYNCWATCH_COMMON_FLAGS_UTIL_H_

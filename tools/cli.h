// The `safetensors` command-line tool: check, inspect, dump, diff.
//
//   bazel run //tools:safetensors -- check --json model.safetensors
//
// Run is the whole tool, so tests drive it in-process.
#ifndef SAFETENSORS_TOOLS_CLI_H_
#define SAFETENSORS_TOOLS_CLI_H_

#include <ostream>
#include <string>
#include <vector>

namespace safetensors {
namespace cli {

// Exit codes shared by every command.
inline constexpr int kExitOk = 0;
inline constexpr int kExitProblem = 1;  // invalid file, difference, missing tensor
inline constexpr int kExitUsage = 2;    // bad arguments or an I/O error

// Runs the tool on `args` (without the program name). Relative paths are
// taken from $BUILD_WORKING_DIRECTORY when set (as `bazel run` sets it).
int Run(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace cli
}  // namespace safetensors

#endif  // SAFETENSORS_TOOLS_CLI_H_

// What every `safetensors` command shares: exit codes, flag parsing, paths,
// and reporting a failure. No LibTorch.
#ifndef SAFETENSORS_TOOLS_CLI_UTIL_H_
#define SAFETENSORS_TOOLS_CLI_UTIL_H_

#include <cstdint>
#include <map>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace safetensors {
namespace cli {

// Exit codes shared by every command.
inline constexpr int kExitOk = 0;
inline constexpr int kExitProblem = 1;  // invalid file, difference, missing tensor
inline constexpr int kExitUsage = 2;    // bad arguments or an I/O error

// A command: its arguments (after the command name) and streams; returns the
// exit code.
using Command = int (*)(const std::vector<std::string>& args, std::ostream& out,
                        std::ostream& err);

// Flags of the form --name or --name=value, then positional arguments.
struct Args {
  std::map<std::string, std::string> flags;
  std::vector<std::string> positional;
};

// `valued` flags take a value (--name=v or --name v); `switches` may have one
// (--name or --name=v). Errors: absl::InvalidArgumentError naming the flag.
absl::StatusOr<Args> ParseArgs(const std::vector<std::string>& args,
                               const std::set<std::string>& valued,
                               const std::set<std::string>& switches);

// `path` taken from $BUILD_WORKING_DIRECTORY when relative and set (as
// `bazel run` sets it).
std::string ResolvePath(const std::string& path);

bool IsIoError(const absl::Status& status);

// Prints "safetensors: PATH: message [Code]" to `err`; the exit code for it:
// kExitUsage for I/O errors, kExitProblem for anything the file is to blame for.
int ReportError(const std::string& path, const absl::Status& status, std::ostream& err);

// "[2, 3]" for tables, "[2,3]" for JSON.
std::string ShapeText(absl::Span<const uint64_t> shape);
std::string ShapeJson(absl::Span<const uint64_t> shape);

}  // namespace cli
}  // namespace safetensors

#endif  // SAFETENSORS_TOOLS_CLI_UTIL_H_

// The `safetensors` command-line tool: check, inspect, dump, diff.
//
//   bazel run //tools:safetensors -- check --json model.safetensors
//
// Run is the whole tool, so tests drive it in-process. It is built without
// LibTorch: check and inspect run here; dump and diff, which need tensor
// values, go to `value_commands`, which the binary sets to running its
// sibling safetensors_values (and tests set to value_commands.h's
// RunValueCommand).
#ifndef SAFETENSORS_TOOLS_CLI_H_
#define SAFETENSORS_TOOLS_CLI_H_

#include <ostream>
#include <string>
#include <vector>

#include "tools/cli_util.h"

namespace safetensors {
namespace cli {

// Runs the tool on `args` (without the program name). `value_commands` gets
// the whole argument list for dump and diff; null says this build has none.
int Run(const std::vector<std::string>& args, std::ostream& out, std::ostream& err,
        Command value_commands);

}  // namespace cli
}  // namespace safetensors

#endif  // SAFETENSORS_TOOLS_CLI_H_

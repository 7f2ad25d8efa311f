// `safetensors dump` and `diff`: they read tensor values, so they need
// LibTorch, and live in their own binary (safetensors_values) that the
// `safetensors` command runs for them.
#ifndef SAFETENSORS_TOOLS_VALUE_COMMANDS_H_
#define SAFETENSORS_TOOLS_VALUE_COMMANDS_H_

#include <ostream>
#include <string>
#include <vector>

namespace safetensors {
namespace cli {

// `args` exclude the command name. Both return a cli_util.h exit code.
int Dump(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);
int Diff(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

// "dump ..." or "diff ...": the whole of safetensors_values.
int RunValueCommand(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace cli
}  // namespace safetensors

#endif  // SAFETENSORS_TOOLS_VALUE_COMMANDS_H_

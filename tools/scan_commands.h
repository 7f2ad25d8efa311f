// `safetensors check` and `inspect`: they read headers only, so they are built
// without LibTorch (on io/ and parser/), start in milliseconds and carry no
// ~1 GB runtime into a security scan.
#ifndef SAFETENSORS_TOOLS_SCAN_COMMANDS_H_
#define SAFETENSORS_TOOLS_SCAN_COMMANDS_H_

#include <ostream>
#include <string>
#include <vector>

namespace safetensors {
namespace cli {

// `args` exclude the command name. Both return a cli_util.h exit code.
int Check(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);
int Inspect(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace cli
}  // namespace safetensors

#endif  // SAFETENSORS_TOOLS_SCAN_COMMANDS_H_

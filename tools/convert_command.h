// `safetensors convert IN OUT`: torch.save checkpoints to safetensors, read as
// data and streamed (io/pickle_convert.h). No LibTorch.
#ifndef SAFETENSORS_TOOLS_CONVERT_COMMAND_H_
#define SAFETENSORS_TOOLS_CONVERT_COMMAND_H_

#include <ostream>
#include <string>
#include <vector>

namespace safetensors {
namespace cli {

int Convert(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace cli
}  // namespace safetensors

#endif  // SAFETENSORS_TOOLS_CONVERT_COMMAND_H_

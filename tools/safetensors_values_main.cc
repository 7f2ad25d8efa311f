// `safetensors_values dump|diff ...`: the LibTorch half of the `safetensors`
// command, which runs it for those two commands.
#include <iostream>
#include <string>
#include <vector>

#include "tools/value_commands.h"

int main(int argc, char** argv) {
  return safetensors::cli::RunValueCommand(std::vector<std::string>(argv + 1, argv + argc),
                                           std::cout, std::cerr);
}

// `safetensors_scan`: the LibTorch-free scanner for pipelines that vet
// downloaded checkpoints (check, inspect). Its whole dependency graph is
// parser/, io/, Abseil and RE2; CI verifies that no LibTorch reaches it.
#include <iostream>
#include <string>
#include <vector>

#include "tools/cli.h"

int main(int argc, char** argv) {
  return safetensors::cli::Run(std::vector<std::string>(argv + 1, argv + argc), std::cout,
                               std::cerr, /*value_commands=*/nullptr);
}

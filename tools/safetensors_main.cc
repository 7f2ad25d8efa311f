// The `safetensors` command. It links no LibTorch, so check and inspect start
// at once; for dump and diff it runs safetensors_values, its LibTorch-linked
// sibling, which Bazel builds beside it (a data dependency).
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "tools/cli.h"

namespace {

// safetensors_values in this binary's own directory (bazel-bin/tools/, or
// wherever the two are installed together).
std::string SiblingPath() {
  std::string self(4096, '\0');
  const ssize_t n = ::readlink("/proc/self/exe", self.data(), self.size());
  if (n <= 0 || static_cast<size_t>(n) >= self.size()) return "safetensors_values";
  self.resize(static_cast<size_t>(n));
  return self.substr(0, self.rfind('/') + 1) + "safetensors_values";
}

int ExecValueCommand(const std::vector<std::string>& args, std::ostream& out,
                     std::ostream& err) {
  const std::string program = SiblingPath();
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(program.c_str()));
  for (const std::string& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  out.flush();
  err.flush();
  ::execv(program.c_str(), argv.data());
  err << "safetensors: cannot run " << program << " for " << args[0] << ": "
      << std::strerror(errno) << " (build //tools:safetensors, which brings it)\n";
  return safetensors::cli::kExitUsage;
}

}  // namespace

int main(int argc, char** argv) {
  return safetensors::cli::Run(std::vector<std::string>(argv + 1, argv + argc), std::cout,
                               std::cerr, &ExecValueCommand);
}

#include "tools/cli.h"

#include "parser/error.h"
#include "tools/convert_command.h"
#include "tools/scan_commands.h"
#include "tools/verify_command.h"

namespace safetensors {
namespace cli {
namespace {

constexpr char kUsage[] = R"(usage: safetensors COMMAND [ARGS]

Validate and look into safetensors files, and torch.save checkpoints read as
data. Untrusted files are safe: every command validates the whole header (or
the whole zip directory and pickle) before anything else, and runs nothing.

commands:
  check FILE...              validate files or checkpoints without loading tensors
  inspect FILE               metadata and a table of tensors (reads headers only)
  verify PATH...             files against their hub-cache digests (or --sha256,
                             --sums), in parallel, without loading tensors
  convert IN OUT             a torch.save checkpoint (pytorch_model.bin, .pt,
                             .ckpt; sharded too) to safetensors, read as data
  dump FILE NAME             a tensor's values and statistics
  diff A B                   compare two files' or checkpoints' tensors
FILE is a .safetensors file, or a checkpoint: a model.safetensors.index.json
or a directory holding one (or holding one .safetensors file).
exit codes: 0 fine, 1 invalid/different/not found, 2 usage or I/O error.
`safetensors COMMAND --help` describes each command.
)";

}  // namespace

int Run(const std::vector<std::string>& args, std::ostream& out, std::ostream& err,
        Command value_commands) {
  if (args.empty()) {
    err << kUsage;
    return kExitUsage;
  }
  const std::string& command = args[0];
  const std::vector<std::string> rest(args.begin() + 1, args.end());
  if (command == "--help" || command == "-h" || command == "help") {
    out << kUsage;
    return kExitOk;
  }
  if (command == "check") return Check(rest, out, err);
  if (command == "inspect") return Inspect(rest, out, err);
  if (command == "verify") return Verify(rest, out, err);
  if (command == "convert") return Convert(rest, out, err);
  if (command == "dump" || command == "diff") {
    if (value_commands == nullptr) {
      err << "safetensors: " << command
          << " reads tensor values and needs LibTorch; this is the LibTorch-free scanner "
             "(check, inspect). Use the safetensors tool (//tools:safetensors).\n";
      return kExitUsage;
    }
    return value_commands(args, out, err);
  }
  err << "safetensors: unknown command " << QuoteForMessage(command) << "\n" << kUsage;
  return kExitUsage;
}

}  // namespace cli
}  // namespace safetensors

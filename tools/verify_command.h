// `safetensors verify`: are the downloaded files the bytes that were
// published? Hub-cache blobs are checked against the digest in their names,
// other files against `--sha256` or a `sha256sum` list (io/verify.h). Built
// without LibTorch, like check and inspect.
#ifndef SAFETENSORS_TOOLS_VERIFY_COMMAND_H_
#define SAFETENSORS_TOOLS_VERIFY_COMMAND_H_

#include <ostream>
#include <string>
#include <vector>

namespace safetensors {
namespace cli {

// `args` exclude the command name; returns a cli_util.h exit code: 0 every
// verifiable file verified, 1 any mismatch or missing file, 2 usage or I/O
// error (a file that cannot be read, a path that does not exist).
int Verify(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

// `verify PATH...` after its flags, and what `check --verify` adds: the
// files `paths` name, hashed on `threads` (0: the default), printed to `out`
// as text or JSON lines; the same exit codes.
int VerifyPaths(const std::vector<std::string>& paths, bool json, int threads,
                std::ostream& out, std::ostream& err);

}  // namespace cli
}  // namespace safetensors

#endif  // SAFETENSORS_TOOLS_VERIFY_COMMAND_H_

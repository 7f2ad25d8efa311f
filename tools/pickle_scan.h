// `check` and `inspect` of torch.save checkpoints (`pytorch_model.bin`, `.pt`,
// `.ckpt`): read as data by io/pickle_file.h, never run. No LibTorch.
#ifndef SAFETENSORS_TOOLS_PICKLE_SCAN_H_
#define SAFETENSORS_TOOLS_PICKLE_SCAN_H_

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "io/tensor_filter.h"
#include "parser/pickle_checkpoint.h"

namespace safetensors {
namespace cli {

// "torch-zip" or "torch-legacy".
const char* PickleFormatName(PickleFormat format);

// One line per distinct global: name, count, first byte offset, allowed.
struct GlobalSummary {
  std::string name;
  uint64_t count = 0;
  uint64_t first_offset = 0;
  bool allowed = false;
};
std::vector<GlobalSummary> SummarizeGlobals(const PickleCheckpoint& table);

// The JSON array of SummarizeGlobals.
std::string GlobalsJson(const PickleCheckpoint& table);

// Prints `inspect`'s view of the checkpoint at `path` (shown as `shown`):
// format, globals, tensors (those `filter` selects), storages, other values,
// skipped placeholders, totals; as JSON with `json`. A sharded checkpoint
// (`path` resolved by ResolvePickleCheckpointPath) is opened and checked
// whole, then each shard shown the same way (JSON: {"checkpoint", "index",
// "shards": [...]}). Returns the exit code.
int InspectPickle(const std::string& shown, const std::string& path, bool json, bool skip_unknown,
                  const internal::TensorFilter& filter, std::ostream& out, std::ostream& err);

}  // namespace cli
}  // namespace safetensors

#endif  // SAFETENSORS_TOOLS_PICKLE_SCAN_H_

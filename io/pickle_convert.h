// Converting a torch.save checkpoint to safetensors without LibTorch and
// without running it: the job of the reference's bindings/python/convert.py,
// read as data (io/pickle_file.h) instead of through torch.load.
//
//   absl::StatusOr<ConvertResult> r = ConvertPickleFile("pytorch_model.bin", "model.safetensors", {});
//
// The output is what the reference pipeline writes for the same input,
//   torch.load(f, weights_only=True)   (the dict under "state_dict" if any)
//   -> safetensors.torch._remove_duplicate_names
//   -> save_file({k: v.contiguous()}, out, metadata={"format": "pt", dropped: kept...})
// byte for byte when the metadata has one entry. With more, the reference's
// order of `__metadata__` keys changes from one process to the next (its map
// is unordered); here it is "format", then the dropped names in byte order.
// The shared-tensor rule is parser/shared_storage.h's, the one every writer
// here uses. Inputs the reference refuses are refused (a shared storage no
// name covers: kInvalidTensor).
//
// Streaming: storages go from the input to the output file, with
// copy_file_range where a tensor's bytes are already in order and
// little-endian, through a bounded buffer otherwise (strided views,
// big-endian files), the input read front to back and each tensor written at
// its place: memory stays at the tables plus the buffer, whatever the
// model's size. The output is replaced atomically (io/atomic_file.h).
#ifndef SAFETENSORS_IO_PICKLE_CONVERT_H_
#define SAFETENSORS_IO_PICKLE_CONVERT_H_

#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "io/pickle_file.h"  // IWYU pragma: export (kPickleIndexName)
#include "parser/pickle_checkpoint.h"

namespace safetensors {

struct ConvertOptions {
  // Which dict names the tensors, whether unknown globals are skipped.
  PickleCheckpointOptions pickle;
  // convert.py's discard_names: names kept only when every complete name of
  // their shared group is one.
  std::set<std::string> discard_names;
  // The buffer for bytes that cannot be copied by the kernel.
  uint64_t buffer_bytes = uint64_t{16} << 20;
  // Called as tensor bytes are written: (bytes done, bytes total).
  std::function<void(uint64_t, uint64_t)> progress;
};

struct ConvertResult {
  uint64_t tensors = 0;        // written
  uint64_t bytes = 0;          // the output's size
  uint64_t copied_by_kernel = 0;  // tensor bytes copy_file_range moved
  // Dropped names, each with the name kept for its storage (as recorded in
  // the output's metadata).
  std::vector<std::pair<std::string, std::string>> dropped;
};

// Converts the torch.save file `input` to the safetensors file `output`.
// Errors: OpenPickleCheckpoint's; kInvalidTensor (shared storage no name
// covers); SerializeHeader's; kIoError, kFileTruncated.
absl::StatusOr<ConvertResult> ConvertPickleFile(const std::string& input, const std::string& output,
                                                const ConvertOptions& options);

// A sharded torch.save checkpoint: `input` is a pytorch_model.bin.index.json
// or a directory holding one. Every shard is read, validated and checked
// against the index (OpenShardedPickleCheckpoint) before any output is
// written; then each becomes SafetensorsNameFor(shard) in
// `output_dir` (made if missing), and the index
// model.safetensors.index.json is written last, as convert.py writes it:
// json.dump(indent=4) of the input's metadata, verbatim, and its weight_map
// with shard names renamed (names dropped as shared stay listed, as there).
// Other top-level keys of the input index are not carried over.
// options.progress counts the bytes of all shards. Errors: kBadArgument when
// `input` resolves to no index (ResolvePickleCheckpointPath);
// OpenShardedPickleCheckpoint's; ConvertPickleFile's, naming the shard.
struct CheckpointConversion {
  std::vector<std::string> outputs;  // shard files written, in weight_map order
  std::string index_path;
  ConvertResult total;               // summed over shards
};
absl::StatusOr<CheckpointConversion> ConvertPickleCheckpoint(const std::string& input,
                                                             const std::string& output_dir,
                                                             const ConvertOptions& options);

// convert.py's rename: "pytorch_model-00001-of-00002.bin" ->
// "model-00001-of-00002.safetensors" (extension replaced, "pytorch_model"
// replaced by "model").
std::string SafetensorsNameFor(const std::string& pickle_name);

}  // namespace safetensors

#endif  // SAFETENSORS_IO_PICKLE_CONVERT_H_

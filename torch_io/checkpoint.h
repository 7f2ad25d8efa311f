// Checkpoints, sharded or not, for LibTorch: the C++ twin of huggingface_hub's
// save_torch_state_dict / save_torch_model / load_torch_model, plus a lazy
// handle (safe_open for a whole checkpoint).
//
//   Python (huggingface_hub)                          C++ (namespace safetensors)
//   save_torch_state_dict(sd, dir, max_shard_size=)   save_torch_state_dict(sd, dir, options)
//   save_torch_model(model, dir, ...)                 save_torch_model(*model, dir, options)
//   split_torch_state_dict_into_shards(sd, ...)       split_torch_state_dict_into_shards(sd, ...)
//   load_torch_model(model, path, strict=False)       load_torch_model(*model, path, false)
//   (transformers) every tensor of a checkpoint       load_checkpoint(path, device)
//   (per shard) safe_open(shard)                      open_checkpoint(path, device)
//
//   auto f = safetensors::open_checkpoint("DeepSeek-V3/");   // index + 163 shards validated
//   at::Tensor w = *f->get_tensor("model.embed_tokens.weight");
//
// `path` is a .safetensors file, a model.safetensors.index.json, or a
// directory holding either (io/checkpoint.h says how it is resolved and every
// rule checked across shards before any tensor exists).
#ifndef SAFETENSORS_TORCH_IO_CHECKPOINT_H_
#define SAFETENSORS_TORCH_IO_CHECKPOINT_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "io/checkpoint.h"
#include "torch_io/device.h"
#include "torch_io/model.h"
#include "torch_io/safe_open.h"
#include "torch_io/types.h"

namespace safetensors {
namespace internal {
struct FileToLoad;
}  // namespace internal

// safe_open over a checkpoint: names, metadata and layouts at once; tensors
// and slices read on demand from the right shard (only the bytes needed).
class CheckpointReader {
 public:
  // options.parse applies to every shard (checkpoint.parse is ignored);
  // options.tensor_filter selects tensors in every shard.
  // Errors: Checkpoint::Open's; kBadArgument for a bad device or filter.
  static absl::StatusOr<CheckpointReader> Open(const std::string& path,
                                               const DeviceSpec& device = "cpu",
                                               const LoadOptions& options = {},
                                               const CheckpointOptions& checkpoint = {});

  // Selected tensor names, sorted; and by shard, then offset in the shard.
  std::vector<std::string> keys() const;
  std::vector<std::string> offset_keys() const;

  // The index's metadata (numbers as their JSON text), or a single file's
  // __metadata__; nullopt when there is none.
  const std::optional<MetadataEntries>& metadata() const { return metadata_; }

  // Every shard, header and tensor location (dtype, shape, shard), without
  // reading data.
  const Checkpoint& checkpoint() const { return *checkpoint_; }
  // The shard file holding `name`. Errors: kTensorNotFound.
  absl::StatusOr<std::string> get_shard(absl::string_view name) const;

  // Errors: kTensorNotFound; kUnsupportedDtype; kInvalidTensor; kIoError.
  absl::StatusOr<at::Tensor> get_tensor(absl::string_view name) const;
  absl::StatusOr<TensorSlice> get_slice(absl::string_view name) const;
  // Every selected tensor, by shard then offset.
  absl::StatusOr<TensorDict> get_tensors() const;

 private:
  // Reads into a model from the shards this reader opened.
  friend absl::StatusOr<LoadModelResult> load_torch_model(torch::nn::Module& model,
                                                          const std::string& path, bool strict,
                                                          const DeviceSpec& device,
                                                          const LoadOptions& options,
                                                          const CheckpointOptions& checkpoint);

  CheckpointReader() = default;
  absl::StatusOr<const SafeOpen*> ShardOf(absl::string_view name) const;
  // Every shard, its name the context of its errors.
  std::vector<internal::FileToLoad> FilesToLoad() const;

  std::shared_ptr<const Checkpoint> checkpoint_;
  std::vector<SafeOpen> shards_;  // one per checkpoint shard
  std::optional<MetadataEntries> metadata_;
};

inline absl::StatusOr<CheckpointReader> open_checkpoint(const std::string& path,
                                                        const DeviceSpec& device = "cpu",
                                                        const LoadOptions& options = {},
                                                        const CheckpointOptions& checkpoint = {}) {
  return CheckpointReader::Open(path, device, options, checkpoint);
}

// Every tensor of a checkpoint (those the filter selects), by shard then
// offset, on `device`. Errors: as CheckpointReader.
absl::StatusOr<TensorDict> load_checkpoint(const std::string& path,
                                           const DeviceSpec& device = "cpu",
                                           const LoadOptions& options = {},
                                           const CheckpointOptions& checkpoint = {});

// huggingface_hub's load_torch_model: a checkpoint into `model`, with
// load_model's rules (shared tensors, missing, unexpected; strict refuses
// either). strict defaults to false, as in huggingface_hub. A torch.save
// checkpoint (IsPickleCheckpointPath: a pytorch_model.bin.index.json, a
// directory with one or with pytorch_model.bin and no .safetensors, or a
// torch.save file) is read as data by load_pickle_checkpoint.
// Errors: as load_checkpoint and load_model.
absl::StatusOr<LoadModelResult> load_torch_model(torch::nn::Module& model,
                                                 const std::string& path, bool strict = false,
                                                 const DeviceSpec& device = "cpu",
                                                 const LoadOptions& options = {},
                                                 const CheckpointOptions& checkpoint = {});

// huggingface_hub's default max_shard_size, "5GB".
inline constexpr uint64_t kDefaultMaxShardSize = 5'000'000'000;

// huggingface_hub's parse_size_to_int: "5GB" -> 5,000,000,000 (units TB, GB,
// MB, KB, powers of 1000; a decimal value such as "1.5GB").
// Errors: kBadArgument.
absl::StatusOr<uint64_t> ParseSizeToInt(absl::string_view size);

struct SaveCheckpointOptions {
  std::string filename_pattern = std::string(kDefaultFilenamePattern);
  bool force_contiguous = true;
  uint64_t max_shard_size = kDefaultMaxShardSize;
  // Index metadata (or, unsharded, the file's, after "format": "pt").
  MetadataEntries metadata;
  // Of each group of shared tensors, names not to keep when another will do.
  std::set<std::string> shared_tensors_to_discard;
};

// huggingface_hub's StateDictSplit.
struct StateDictSplit {
  bool is_sharded = false;
  uint64_t total_size = 0;  // bytes of the tensors' storages, each storage once
  std::vector<std::pair<std::string, std::vector<std::string>>> filename_to_tensors;
  std::vector<std::pair<std::string, std::string>> tensor_to_filename;
};

// Shards in state-dict order: a tensor joins the current shard unless that
// would pass max_shard_size; a tensor larger than max_shard_size gets a shard
// of its own; tensors sharing a storage go together, counted once.
// Errors: kBadArgument for a filename_pattern without "{suffix}".
absl::StatusOr<StateDictSplit> split_torch_state_dict_into_shards(
    const TensorDict& state_dict,
    absl::string_view filename_pattern = kDefaultFilenamePattern,
    uint64_t max_shard_size = kDefaultMaxShardSize);

// huggingface_hub's save_torch_state_dict: shared tensors dropped (and
// recorded in the metadata as "dropped": "kept"), the rest split into shards
// written as save_file writes, and model.safetensors.index.json when there is
// more than one shard. For the same tensors and options the files are
// byte-identical to huggingface_hub's (the single-file case with more than one
// metadata entry aside: the reference orders those by a hash map). An empty
// state dict writes nothing, as there.
//
// All or nothing for a reader: every file is first written and flushed under
// a temporary name; only then is an existing index removed, the shards
// renamed into place and the new index renamed last; finally files of the
// old checkpoint that match the pattern and are not part of the new one are
// removed. A crash before the renames leaves the old checkpoint as it was
// (plus ".tmp-" files); a crash during them leaves no index beside a mix of
// shards, which every loader refuses (several .safetensors files, no index)
// rather than silently mixing old and new weights.
// Errors: save_file's; kBadArgument (pattern); kIoError (directory missing).
absl::Status save_torch_state_dict(const TensorDict& state_dict,
                                   const std::string& save_directory,
                                   const SaveCheckpointOptions& options = {});

// save_torch_state_dict of `model`'s parameters and buffers.
absl::Status save_torch_model(const torch::nn::Module& model, const std::string& save_directory,
                              const SaveCheckpointOptions& options = {});

}  // namespace safetensors

#endif  // SAFETENSORS_TORCH_IO_CHECKPOINT_H_

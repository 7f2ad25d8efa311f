// A checkpoint as a validated whole: one .safetensors file, or a sharded set
// (model.safetensors.index.json and the shards it names), every header and
// every cross-shard rule checked before any tensor exists. No LibTorch:
// `safetensors check` and torch_io's checkpoint loads both stand on it.
//
//   absl::StatusOr<Checkpoint> c = Checkpoint::Open("path/to/model_dir");
//   std::optional<Checkpoint::Location> w = c->Find("lm_head.weight");
//   const CheckpointShard& shard = c->shards()[w->shard];  // its File and Header
//
// `path` is resolved as huggingface_hub.load_torch_model resolves it: a file
// ending in ".index.json" is an index; any other file is a single checkpoint
// file; a directory holds `<pattern>.index.json` (model.safetensors.index.json)
// and its shards, or else `<pattern>` (model.safetensors), or else exactly one
// *.safetensors file. Shards are found beside the index; symlinks are followed
// (the hub cache's snapshots/ are symlinks into blobs/): only the names in the
// index are constrained (parser/checkpoint_index.h).
//
// Rules across shards, checked in this order: every shard the index names
// exists (kMissingShard) and its header validates (the parser's codes, the
// message naming the shard; shards are read on a few threads, and the first
// failing shard in the index's order is reported); every weight_map tensor is
// in the shard it names (kTensorNotInShard); no tensor name is in two shards
// (kTensorInTwoShards); no shard holds a tensor weight_map does not list
// (kUnlistedTensor; CheckpointOptions::allow_unlisted_tensors leaves such
// tensors out instead). Work: one hash lookup per tensor beyond parsing. metadata's total_size, when present, is compared with
// the tensor bytes the shards hold: a difference is a warning, not an error.
#ifndef SAFETENSORS_IO_CHECKPOINT_H_
#define SAFETENSORS_IO_CHECKPOINT_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "io/file.h"
#include "parser/checkpoint_index.h"
#include "parser/header.h"

namespace safetensors {

struct CheckpointOptions {
  ParseOptions parse;
  IndexOptions index;
  // Leave out tensors a shard holds but weight_map does not list, rather than
  // refuse the checkpoint.
  bool allow_unlisted_tensors = false;
  // huggingface_hub's filename_pattern: names the index and the single file
  // looked for in a directory.
  std::string filename_pattern = std::string(kDefaultFilenamePattern);
};

struct CheckpointShard {
  std::string name;  // as the index names it, or the single file's name
  std::string path;
  std::shared_ptr<File> file;
  Header header;
};

class Checkpoint {
 public:
  // Errors: kIoError (path missing or unreadable); kBadArgument (a directory
  // with no checkpoint, or an ambiguous one; a filename_pattern without
  // "{suffix}"); the index's errors (checkpoint_index.h); kMissingShard; every
  // parser error of a shard; kTensorInTwoShards, kTensorNotInShard,
  // kUnlistedTensor; kValidationOverflow when all shards together hold more
  // than 2^64-1 bytes.
  static absl::StatusOr<Checkpoint> Open(const std::string& path,
                                         const CheckpointOptions& options = {});

  Checkpoint(Checkpoint&&) = default;
  Checkpoint& operator=(Checkpoint&&) = default;

  struct Location {
    uint32_t shard;          // position in shards()
    const TensorInfo* info;  // in shards()[shard].header
  };

  // The index file read, or empty for a single file.
  const std::string& index_path() const { return index_path_; }
  const std::optional<CheckpointIndex>& index() const { return index_; }
  // In the index's order of first mention (a single file: one shard).
  const std::vector<CheckpointShard>& shards() const { return shards_; }

  std::optional<Location> Find(absl::string_view name) const;
  size_t num_tensors() const { return static_cast<size_t>(num_tensors_); }
  // Every tensor, by shard then by offset in its shard.
  std::vector<Location> InShardOrder() const;
  // Bytes of tensor data in all shards.
  uint64_t tensor_bytes() const { return tensor_bytes_; }
  // Findings that do not make the checkpoint invalid (total_size differs).
  const std::vector<std::string>& warnings() const { return warnings_; }

 private:
  Checkpoint() = default;
  // The rules across shards. `each_entry_in_its_shard`: every weight_map
  // entry's tensor was found in the shard it names (looked up in parallel).
  absl::Status Validate(const CheckpointOptions& options, bool each_entry_in_its_shard);
  // Sums the tensor bytes; a total_size that differs is a warning.
  absl::Status CheckTotalSize();
  absl::Status SumTensorBytes();

  std::string index_path_;
  std::optional<CheckpointIndex> index_;
  std::vector<CheckpointShard> shards_;
  uint64_t num_tensors_ = 0;
  // Every tensor of every shard is one weight_map lists (always, unless
  // allow_unlisted_tensors let some stay out).
  bool all_listed_ = true;
  std::vector<std::string> warnings_;
  uint64_t tensor_bytes_ = 0;
};

// The index a sharded checkpoint at `path` (resolved as Checkpoint::Open
// does) is read from. Errors: kBadArgument when `path` is not a sharded
// checkpoint; Checkpoint::Open's resolution errors.
absl::StatusOr<std::string> IndexPathOf(const std::string& path,
                                        const CheckpointOptions& options = {});

// The validated index at `index_path`; its size is checked against the limit
// before it is read. Errors: kIoError, kIndexTooLarge, ParseCheckpointIndex's.
absl::StatusOr<CheckpointIndex> ReadCheckpointIndex(const std::string& index_path,
                                                    const IndexOptions& options = {});

// "model{suffix}.safetensors" with `suffix` in place of "{suffix}".
// Errors: kBadArgument when `pattern` has no "{suffix}".
absl::StatusOr<std::string> FormatFilenamePattern(absl::string_view pattern,
                                                  absl::string_view suffix);

}  // namespace safetensors

#endif  // SAFETENSORS_IO_CHECKPOINT_H_

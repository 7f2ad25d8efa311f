// Validating a sharded checkpoint's index, `model.safetensors.index.json`:
//
//   {"metadata": {"total_size": 28966928384, ...},
//    "weight_map": {"lm_head.weight": "model-00004-of-00004.safetensors", ...}}
//
// The index is as untrusted as a shard, and its shard names are a
// path-traversal surface: a loader joins them to a directory. So it is read
// by the same strict, bounded JSON machinery as a header (json_reader.h), and
// every shard name must be a plain `.safetensors` file name in the index's own
// directory. No LibTorch, no I/O: io/checkpoint.h opens the shards.
//
//   absl::StatusOr<CheckpointIndex> index = ParseCheckpointIndex(json_text);
//   for (const auto& entry : index->weight_map()) { ... index->shards()[entry.shard] ... }
//
// Accepted: `metadata` absent, null, or an object whose values are numbers or
// strings (huggingface_hub writes total_size and, for dropped shared
// tensors, "dropped": "kept"); other top-level keys (validated, then
// ignored). Refused, with the key and byte offset: invalid UTF-8
// (kInvalidUtf8), JSON (kInvalidJson), anything of the wrong shape
// (kInvalidSchema: no weight_map, a weight_map that is not an object of
// strings, a metadata value that is an object, array, boolean or null), a key
// twice in any object (kDuplicateKey), a bad shard name (kInvalidShardName,
// see CheckShardName), an index over the size limit (kIndexTooLarge, before
// anything is read). Work and memory are linear in the index's size.
#ifndef SAFETENSORS_PARSER_CHECKPOINT_INDEX_H_
#define SAFETENSORS_PARSER_CHECKPOINT_INDEX_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "parser/json_reader.h"
#include "parser/name_index.h"
#include "parser/stable_arena.h"

namespace safetensors {

// huggingface_hub refuses indexes over 10 MB; a DeepSeek-V3 index (163
// shards, 92,000 tensors) is 9 MB. 100 MB holds a million tensors.
inline constexpr uint64_t kDefaultMaxIndexSize = 100'000'000;

// The index's name for a checkpoint whose shards follow `filename_pattern`
// (huggingface_hub's pattern, "model{suffix}.safetensors" by default).
inline constexpr absl::string_view kDefaultFilenamePattern = "model{suffix}.safetensors";

struct IndexOptions {
  uint64_t max_index_size = kDefaultMaxIndexSize;
  // Called with each shard's number and name as soon as weight_map first
  // names it (and the name has passed CheckShardName), while the rest of the
  // index is still being read: a caller can start opening shards early. A
  // later error in the index still fails the parse.
  std::function<void(uint32_t shard, absl::string_view name)> on_new_shard;
  // What every shard name must end in: ".bin" reads a
  // pytorch_model.bin.index.json (torch.save shards).
  std::string shard_extension = ".safetensors";
};

struct IndexMetadataEntry {
  std::string key;
  std::string value;  // a string's text, or a number's JSON text ("123")
  bool is_number = false;
};

// A validated index. Move-only: weight_map() views point into its storage.
class CheckpointIndex {
 public:
  CheckpointIndex(CheckpointIndex&&) = default;
  CheckpointIndex& operator=(CheckpointIndex&&) = default;

  struct Entry {
    absl::string_view tensor;
    uint32_t shard;  // position in shards()
  };

  // `metadata` in file order; empty when absent or null.
  const std::vector<IndexMetadataEntry>& metadata() const { return metadata_; }
  // metadata's total_size, when it is an integer in 0..2^64-1.
  std::optional<uint64_t> total_size() const { return total_size_; }
  // Distinct shard file names, in order of first appearance.
  const std::vector<std::string>& shards() const { return shards_; }
  // weight_map in file order.
  absl::Span<const Entry> weight_map() const { return weight_map_; }
  // The shard `tensor` is in, or nullopt.
  std::optional<uint32_t> ShardOf(absl::string_view tensor) const;

 private:
  friend class IndexBuilder;
  friend absl::StatusOr<CheckpointIndex> ParseCheckpointIndex(absl::string_view json,
                                                              const IndexOptions& options);
  CheckpointIndex() = default;

  // Indexes weight_map_ once it is complete; removes and reports repeated
  // tensor names (the first stays).
  void BuildIndex(internal::DuplicateKeys& duplicates);

  // Positions in weight_map_ (4 bytes an entry: a 100,000-tensor index
  // stays in cache while it is built).
  static absl::string_view NameOf(const Entry& e) { return e.tensor; }
  using NameIndex = internal::NameIndex<Entry, uint32_t, &CheckpointIndex::NameOf>;

  internal::StableArena<char> names_;
  std::vector<IndexMetadataEntry> metadata_;
  std::optional<uint64_t> total_size_;
  std::vector<std::string> shards_;
  std::vector<Entry> weight_map_;
  std::vector<uint64_t> key_offsets_;  // of weight_map_'s keys, for messages
  NameIndex by_tensor_;
};

// Errors: as described at the top of this file.
absl::StatusOr<CheckpointIndex> ParseCheckpointIndex(absl::string_view json,
                                                     const IndexOptions& options = {});

// The shard name rule: a non-empty file name in the index's directory, at
// most 255 bytes, ending in `extension` after a non-empty stem; no '/',
// '\', NUL or other control character, no drive prefix ("C:"), not "." or
// "..". Errors: kInvalidShardName, saying which part of the rule it breaks.
absl::Status CheckShardName(absl::string_view name, absl::string_view extension = ".safetensors");

}  // namespace safetensors

#endif  // SAFETENSORS_PARSER_CHECKPOINT_INDEX_H_

// Arbitrary bytes as model.safetensors.index.json -> ParseCheckpointIndex,
// and on success every invariant of an accepted index: shard names obey the
// shard-name rule, every weight_map entry is found where it says, and the
// index serializes (as huggingface_hub writes it) to text that parses back to
// the same index.
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "fuzz/header_invariants.h"
#include "parser/checkpoint_index.h"
#include "parser/checkpoint_index_writer.h"
#include "parser/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace safetensors;
  using fuzzing::Require;
  // An exact-size copy, so ASan flags any read one past the end.
  std::unique_ptr<char[]> copy(new char[size]);
  if (size > 0) std::memcpy(copy.get(), data, size);
  absl::StatusOr<CheckpointIndex> index = ParseCheckpointIndex(absl::string_view(copy.get(), size));
  if (!index.ok()) {
    Require(GetErrorCode(index.status()).has_value(), "every error has a code");
    Require(index.status().code() != absl::StatusCode::kInternal, "no internal errors");
    return 0;
  }
  for (const std::string& shard : index->shards()) {
    Require(CheckShardName(shard).ok(), "accepted shard names obey the rule");
  }
  std::vector<std::pair<std::string, std::string>> weight_map;
  for (const CheckpointIndex::Entry& entry : index->weight_map()) {
    Require(entry.shard < index->shards().size(), "shard numbers are in range");
    Require(index->ShardOf(entry.tensor) == entry.shard, "ShardOf finds each entry");
    weight_map.emplace_back(std::string(entry.tensor), index->shards()[entry.shard]);
  }
  absl::StatusOr<std::string> text = SerializeCheckpointIndex(index->metadata(), weight_map);
  Require(text.ok(), "an accepted index serializes");
  absl::StatusOr<CheckpointIndex> again = ParseCheckpointIndex(*text);
  Require(again.ok(), "the serialized index parses");
  Require(again->shards() == index->shards(), "same shards");
  Require(again->weight_map().size() == index->weight_map().size(), "same weight_map size");
  for (size_t i = 0; i < weight_map.size(); ++i) {
    Require(again->weight_map()[i].tensor == index->weight_map()[i].tensor, "same tensors, same order");
  }
  Require(again->metadata().size() == index->metadata().size(), "same metadata");
  for (size_t i = 0; i < index->metadata().size(); ++i) {
    Require(again->metadata()[i].key == index->metadata()[i].key &&
                again->metadata()[i].value == index->metadata()[i].value &&
                again->metadata()[i].is_number == index->metadata()[i].is_number,
            "same metadata entries");
  }
  Require(again->total_size() == index->total_size(), "same total_size");
  return 0;
}

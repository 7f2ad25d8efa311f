#include "parser/checkpoint_index.h"

#include <algorithm>
#include <utility>

#include "absl/base/optimization.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "parser/checked_math.h"
#include "parser/error.h"
#include "parser/json_reader.h"
#include "parser/status_macros.h"
#include "parser/utf8.h"

namespace safetensors {

std::optional<uint32_t> CheckpointIndex::ShardOf(absl::string_view tensor) const {
  auto it = by_tensor_.find(tensor);
  if (it == by_tensor_.end()) return std::nullopt;
  return weight_map_[*it].shard;
}

void CheckpointIndex::BuildIndex(internal::DuplicateKeys& duplicates) {
  by_tensor_ = internal::MakeNameIndex<Entry, uint32_t, &CheckpointIndex::NameOf>(weight_map_);
  size_t kept = 0;
  for (size_t i = 0; i < weight_map_.size(); ++i) {
    weight_map_[kept] = weight_map_[i];
    auto [it, added] = by_tensor_.insert(static_cast<uint32_t>(kept));
    if (ABSL_PREDICT_TRUE(added)) {
      key_offsets_[kept] = key_offsets_[i];
      ++kept;
      continue;
    }
    duplicates.Found(key_offsets_[i],
                     absl::StrCat("weight_map: duplicate tensor ",
                                  QuoteForMessage(weight_map_[i].tensor), " at byte ",
                                  key_offsets_[i], " (first at byte ", key_offsets_[*it], ")"));
  }
  if (kept != weight_map_.size()) {
    // A duplicate is an error (duplicates.Check()), so this index is never
    // used; shrink anyway so that it stays consistent.
    weight_map_.resize(kept);
    key_offsets_.resize(kept);
    by_tensor_ = internal::MakeNameIndex<Entry, uint32_t, &CheckpointIndex::NameOf>(weight_map_);
    for (uint32_t i = 0; i < kept; ++i) by_tensor_.insert(i);
  }
}

absl::Status CheckShardName(absl::string_view name, absl::string_view extension) {
  constexpr size_t kMaxNameBytes = 255;
  absl::string_view problem;
  if (name.empty()) {
    problem = "is empty";
  } else if (name.front() == '/' || name.front() == '\\') {
    problem = "is an absolute path";
  } else if (name == "." || name == "..") {
    problem = "is a '.' or '..' component";
  } else if (name.find_first_of("/\\") != absl::string_view::npos) {
    problem = name.find("..") != absl::string_view::npos
                  ? "has a '..' component or a directory; it must be a file name in the "
                    "index's directory"
                  : "contains '/' or '\\'; it must be a file name in the index's directory";
  } else if (name.size() >= 2 && name[1] == ':' &&
             ((name[0] >= 'A' && name[0] <= 'Z') || (name[0] >= 'a' && name[0] <= 'z'))) {
    problem = "starts with a drive letter";
  } else if (std::any_of(name.begin(), name.end(), [](char c) {
               return static_cast<unsigned char>(c) < 0x20 || c == 0x7F;
             })) {
    problem = "contains NUL or another control character";
  } else if (name.size() > kMaxNameBytes) {
    problem = "is longer than 255 bytes, the limit of a file name";
  } else if (!absl::EndsWith(name, extension) || name.size() == extension.size()) {
    problem = extension == ".safetensors" ? "is not a .safetensors file name" : "has another extension";
  }
  if (ABSL_PREDICT_TRUE(problem.empty())) return absl::OkStatus();
  return MakeError(ErrorCode::kInvalidShardName,
                   absl::StrCat("shard name ", QuoteForMessage(name), " ", problem));
}

// Reads the index grammar into a CheckpointIndex.
class IndexBuilder : public internal::JsonReader {
 public:
  IndexBuilder(absl::Span<const uint8_t> json, const IndexOptions& options,
               internal::DuplicateKeys& duplicates, CheckpointIndex& out)
      : JsonReader("index", json, 0, duplicates), options_(options), out_(out) {}

  absl::Status ReadDocument();

 private:
  absl::Status ReadMetadata();
  absl::Status ReadWeightMap();

  const IndexOptions& options_;
  CheckpointIndex& out_;
  std::string key_scratch_;
  std::string shard_scratch_;
  absl::flat_hash_map<std::string, uint32_t> shard_numbers_;
  uint32_t last_shard_ = 0;
};

absl::Status IndexBuilder::ReadDocument() {
  SkipWhitespace();
  if (cursor_.Peek() != '{') return WrongType("the index must be a JSON object");
  cursor_.Advance();
  bool seen_weight_map = false;
  absl::flat_hash_set<std::string> keys;
  SkipWhitespace();
  if (!Consume('}')) {
    for (;;) {
      uint64_t key_offset;
      absl::string_view key;
      SAFETENSORS_RETURN_IF_ERROR(ReadKey(key_scratch_, &key, &key_offset));
      const bool repeated = !keys.emplace(key).second;
      if (repeated) {
        // A second metadata or weight_map would be read over the first: refuse
        // at once rather than merge.
        return MakeError(ErrorCode::kDuplicateKey,
                         absl::StrCat("duplicate key ", QuoteForMessage(key), " at byte ",
                                      key_offset, " of the index"));
      }
      if (key == "metadata") {
        SAFETENSORS_RETURN_IF_ERROR(ReadMetadata());
      } else if (key == "weight_map") {
        SAFETENSORS_RETURN_IF_ERROR(ReadWeightMap());
        seen_weight_map = true;
      } else {
        SAFETENSORS_RETURN_IF_ERROR(SkipValue(1));
      }
      SAFETENSORS_ASSIGN_OR_RETURN(const bool more, ReadSeparator('}', "after an index entry"));
      if (!more) break;
    }
  }
  SkipWhitespace();
  if (!cursor_.AtEnd()) return SyntaxError("trailing characters after the index");
  if (ABSL_PREDICT_FALSE(!seen_weight_map)) {
    return MakeError(ErrorCode::kInvalidSchema,
                     "the index has no \"weight_map\" object (tensor name -> shard file)");
  }
  return absl::OkStatus();
}

absl::Status IndexBuilder::ReadMetadata() {
  if (cursor_.Peek() == 'n') return ReadLiteral("null");
  if (cursor_.Peek() != '{') return WrongType("\"metadata\" must be an object or null");
  cursor_.Advance();
  absl::flat_hash_set<std::string> keys;
  SkipWhitespace();
  if (Consume('}')) return absl::OkStatus();
  for (;;) {
    uint64_t key_offset;
    absl::string_view key;
    SAFETENSORS_RETURN_IF_ERROR(ReadKey(key_scratch_, &key, &key_offset));
    NoteKey(keys, key, key_offset, "metadata", "key");
    IndexMetadataEntry entry;
    entry.key = std::string(key);
    const int c = cursor_.Peek();
    if (c == '"') {
      absl::string_view value;
      SAFETENSORS_RETURN_IF_ERROR(ReadString(value_scratch_, &value));
      entry.value = std::string(value);
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      internal::NumberToken number;
      SAFETENSORS_RETURN_IF_ERROR(LexNumber(number));
      if (!internal::FitsSerdeNumber(number)) {
        return SyntaxError("number out of range of a double");
      }
      entry.value = std::string(internal::AsChars(number.text));
      entry.is_number = true;
      if (entry.key == "total_size" && !number.negative && !number.has_fraction &&
          !number.has_exponent) {
        uint64_t value = 0;
        bool fits = true;
        for (char digit : entry.value) {
          fits = fits && CheckedMul(value, 10, &value) &&
                 CheckedAdd(value, static_cast<uint64_t>(digit - '0'), &value);
        }
        if (fits) out_.total_size_ = value;
      }
    } else {
      return WrongType(absl::StrCat("metadata value of ", QuoteForMessage(key),
                                    " must be a number or a string"));
    }
    out_.metadata_.push_back(std::move(entry));
    SAFETENSORS_ASSIGN_OR_RETURN(const bool more, ReadSeparator('}', "in metadata"));
    if (!more) return absl::OkStatus();
  }
}

absl::Status IndexBuilder::ReadWeightMap() {
  if (cursor_.Peek() != '{') {
    return WrongType("\"weight_map\" must be an object of tensor name -> shard file name");
  }
  cursor_.Advance();
  // Every entry holds at least four quotes, so this bounds their number: one
  // allocation rather than growth by doubling.
  const size_t most = cursor_.Count('"') / 4;
  out_.weight_map_.reserve(most);
  out_.key_offsets_.reserve(most);
  SkipWhitespace();
  if (Consume('}')) return absl::OkStatus();
  for (;;) {
    uint64_t key_offset;
    absl::string_view tensor;
    SAFETENSORS_RETURN_IF_ERROR(ReadKey(key_scratch_, &tensor, &key_offset));
    const absl::Span<const char> stored = out_.names_.Copy(tensor);
    const absl::string_view name(stored.data(), stored.size());
    if (cursor_.Peek() != '"') {
      return WrongType(absl::StrCat("weight_map: the shard of tensor ", QuoteForMessage(name),
                                    " must be a string"));
    }
    const uint64_t value_offset = Offset();
    absl::string_view shard;
    SAFETENSORS_RETURN_IF_ERROR(ReadString(shard_scratch_, &shard));
    // Writers list a shard's tensors together: most entries name the shard
    // the previous one named, found without hashing.
    uint32_t number;
    if (!out_.shards_.empty() && shard == out_.shards_[last_shard_]) {
      number = last_shard_;
    } else {
      auto [it, added] = shard_numbers_.try_emplace(shard, 0);
      if (added) {
        if (absl::Status bad = CheckShardName(shard, options_.shard_extension); ABSL_PREDICT_FALSE(!bad.ok())) {
          return MakeError(ErrorCode::kInvalidShardName,
                           absl::StrCat("weight_map: tensor ", QuoteForMessage(name), " (byte ",
                                        value_offset, "): ", bad.message()));
        }
        it->second = static_cast<uint32_t>(out_.shards_.size());
        out_.shards_.emplace_back(shard);
        if (options_.on_new_shard) options_.on_new_shard(it->second, out_.shards_.back());
      }
      number = last_shard_ = it->second;
    }
    // Repeated names are found once the map is complete (BuildIndex).
    out_.weight_map_.push_back(CheckpointIndex::Entry{name, number});
    out_.key_offsets_.push_back(key_offset);
    SAFETENSORS_ASSIGN_OR_RETURN(const bool more, ReadSeparator('}', "in weight_map"));
    if (!more) return absl::OkStatus();
  }
}

absl::StatusOr<CheckpointIndex> ParseCheckpointIndex(absl::string_view json,
                                                     const IndexOptions& options) {
  if (ABSL_PREDICT_FALSE(json.size() > options.max_index_size)) {
    return MakeError(ErrorCode::kIndexTooLarge,
                     absl::StrCat("index of ", json.size(), " bytes exceeds the limit of ",
                                  options.max_index_size, " bytes"));
  }
  const absl::Span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(json.data()),
                                        json.size());
  if (std::optional<size_t> bad = FindInvalidUtf8(bytes); ABSL_PREDICT_FALSE(bad)) {
    return MakeError(ErrorCode::kInvalidUtf8,
                     absl::StrCat("index is not valid UTF-8 at byte ", *bad));
  }
  CheckpointIndex index;
  internal::DuplicateKeys duplicates;
  SAFETENSORS_RETURN_IF_ERROR(IndexBuilder(bytes, options, duplicates, index).ReadDocument());
  index.BuildIndex(duplicates);
  SAFETENSORS_RETURN_IF_ERROR(duplicates.Check());
  return index;
}

}  // namespace safetensors

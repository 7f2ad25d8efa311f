#include "parser/header_writer.h"

#include <algorithm>
#include <numeric>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "parser/checked_math.h"
#include "parser/error.h"
#include "parser/json_string.h"
#include "parser/status_macros.h"
#include "parser/tensor_info.h"
#include "parser/utf8.h"

namespace safetensors {
namespace {

absl::Status CheckUtf8(absl::string_view text, absl::string_view what) {
  const absl::Span<const uint8_t> bytes(
      reinterpret_cast<const uint8_t*>(text.data()), text.size());
  if (std::optional<size_t> bad = FindInvalidUtf8(bytes)) {
    return MakeError(ErrorCode::kBadArgument,
                     absl::StrCat(what, " ", QuoteForMessage(text),
                                  " is not valid UTF-8 at byte ", *bad));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<SerializedHeader> SerializeHeader(
    absl::Span<const TensorDescription> tensors,
    const std::optional<MetadataEntries>& metadata) {
  SerializedHeader result;
  std::string& json = result.bytes;
  json.assign(kLengthPrefixSize, '\0');  // the length, filled in last
  json.push_back('{');
  if (metadata.has_value()) {
    json += "\"__metadata__\":{";
    absl::flat_hash_set<absl::string_view> keys;
    for (const auto& [key, value] : *metadata) {
      if (!keys.insert(key).second) {
        return MakeError(ErrorCode::kDuplicateKey,
                         absl::StrCat("metadata key ", QuoteForMessage(key),
                                      " given twice"));
      }
      SAFETENSORS_RETURN_IF_ERROR(CheckUtf8(key, "metadata key"));
      SAFETENSORS_RETURN_IF_ERROR(CheckUtf8(value, "metadata value"));
      if (keys.size() > 1) json.push_back(',');
      AppendJsonString(key, json);
      json.push_back(':');
      AppendJsonString(value, json);
    }
    json.push_back('}');
  }

  absl::flat_hash_set<absl::string_view> names;
  names.reserve(tensors.size());
  for (const TensorDescription& t : tensors) {
    if (!names.insert(t.name).second) {
      return MakeError(ErrorCode::kDuplicateKey,
                       absl::StrCat("tensor name ", QuoteForMessage(t.name),
                                    " given twice"));
    }
  }
  std::vector<size_t> order(tensors.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return CanonicalOrderLess(tensors[a].dtype, tensors[a].name, tensors[b].dtype,
                              tensors[b].name);
  });
  result.layout.reserve(tensors.size());
  for (size_t i = 0; i < order.size(); ++i) {
    const TensorDescription& t = tensors[order[i]];
    if (t.name == "__metadata__") {
      return MakeError(ErrorCode::kBadArgument,
                       "a tensor cannot be named \"__metadata__\": readers take "
                       "that key for the metadata");
    }
    SAFETENSORS_RETURN_IF_ERROR(CheckUtf8(t.name, "tensor name"));
    // The reader's rules, so whatever we write parses back.
    SAFETENSORS_ASSIGN_OR_RETURN(const uint64_t size, TensorByteSize(t.name, t.dtype, t.shape));
    const uint64_t begin = result.data_size;
    if (!CheckedAdd(begin, size, &result.data_size)) {
      return MakeError(ErrorCode::kValidationOverflow,
                       "the tensors' total size does not fit in 64 bits");
    }
    result.layout.push_back(TensorPlacement{order[i], begin, result.data_size});

    if (json.back() != '{') json.push_back(',');
    AppendJsonString(t.name, json);
    absl::StrAppend(&json, ":{\"dtype\":\"", DtypeName(t.dtype), "\",\"shape\":[");
    for (size_t d = 0; d < t.shape.size(); ++d) {
      absl::StrAppend(&json, d ? "," : "", t.shape[d]);
    }
    absl::StrAppend(&json, "],\"data_offsets\":[", begin, ",", result.data_size, "]}");
  }
  json.push_back('}');
  // Pad so the data buffer, which starts right after, is 8-byte aligned.
  json.append((8 - json.size() % 8) % 8, ' ');
  const uint64_t header_size = json.size() - kLengthPrefixSize;
  for (size_t i = 0; i < 8; ++i) {
    json[i] = static_cast<char>((header_size >> (8 * i)) & 0xFF);
  }
  return result;
}

}  // namespace safetensors

#include "parser/header_json.h"

#include <cstddef>
#include <string>
#include <utility>

#include "absl/base/optimization.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "parser/error.h"
#include "parser/status_macros.h"

namespace safetensors {
namespace internal {
namespace {

class Reader : public JsonReader {
 public:
  Reader(absl::Span<const uint8_t> json, uint64_t file_offset,
         StableArena<char>& names, StableArena<uint64_t>& dims, RawHeader& out,
         DuplicateKeys& duplicates)
      : JsonReader("header", json, file_offset, duplicates), names_(names), dims_(dims), out_(out) {}

  absl::Status ReadDocument();

 private:
  bool TryReadPlainEntry();
  absl::Status ReadTensor(absl::string_view key, uint64_t key_offset);
  absl::Status ReadDtype(absl::string_view tensor, Dtype* dtype);
  absl::Status ReadU64Array(absl::string_view tensor, absl::string_view field,
                            std::vector<uint64_t>& values);
  absl::Status ReadMetadata(uint64_t key_offset);

  StableArena<char>& names_;
  StableArena<uint64_t>& dims_;
  RawHeader& out_;
  bool seen_metadata_ = false;
  // Scratch buffers for strings with escapes, and for numbers, reused across
  // entries to avoid allocating per tensor.
  std::string key_scratch_;
  std::string field_scratch_;
  std::vector<uint64_t> numbers_;
};

absl::Status Reader::ReadDocument() {
  SkipWhitespace();
  if (cursor_.Peek() != '{') return WrongType("the header must be a JSON object");
  cursor_.Advance();
  SkipWhitespace();
  if (!Consume('}')) {
    for (;;) {
      if (!TryReadPlainEntry()) {
        uint64_t key_offset;
        absl::string_view key;
        SAFETENSORS_RETURN_IF_ERROR(ReadKey(key_scratch_, &key, &key_offset));
        if (key == "__metadata__") {
          SAFETENSORS_RETURN_IF_ERROR(ReadMetadata(key_offset));
        } else {
          SAFETENSORS_RETURN_IF_ERROR(ReadTensor(key, key_offset));
        }
      }
      SAFETENSORS_ASSIGN_OR_RETURN(const bool more,
                                   ReadSeparator('}', "after a header entry"));
      if (!more) break;
    }
  }
  SkipWhitespace();
  if (!cursor_.AtEnd()) return SyntaxError("trailing characters after the header");
  return absl::OkStatus();
}

// A tensor entry spelled as writers spell it, which nearly every header
// holds nothing but:
//   "name":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]}
// (no whitespace, no escape in the name, the fields in this order, at most
// kMaxPlainRank dims), read into what ReadTensor would produce. It works on
// a local copy of the cursor, which the compiler keeps in registers: the
// member cursor_ is reloaded after every store of a uint64_t, which might
// alias it, and that made the general path four times slower per byte.
// Returns false, having consumed and stored nothing, for any other spelling,
// which the general path then reads (and rejects, if it must).
bool Reader::TryReadPlainEntry() {
  constexpr size_t kMaxPlainRank = 8;
  ByteCursor c = cursor_;
  const uint64_t key_offset = Offset();
  absl::Span<const uint8_t> name, dtype_name;
  if (!c.ConsumePrefix("\"") || !c.Take(c.CountUntilControlOr('"', '\\'), &name) ||
      !c.ConsumePrefix("\":{\"dtype\":\"") ||
      !c.Take(c.CountUntilControlOr('"', '\\'), &dtype_name) ||
      !c.ConsumePrefix("\",\"shape\":[")) {
    return false;
  }
  uint64_t dims[kMaxPlainRank];
  size_t rank = 0;
  if (!c.ConsumePrefix("]")) {
    do {
      if (rank == kMaxPlainRank || !TakePlainU64(c, &dims[rank++])) return false;
    } while (c.ConsumePrefix(","));
    if (!c.ConsumePrefix("]")) return false;
  }
  uint64_t begin, end;
  if (!c.ConsumePrefix(",\"data_offsets\":[") || !TakePlainU64(c, &begin) ||
      !c.ConsumePrefix(",") || !TakePlainU64(c, &end) || !c.ConsumePrefix("]}")) {
    return false;
  }
  const std::optional<Dtype> dtype = ParseDtype(AsChars(dtype_name));
  if (!dtype.has_value() || AsChars(name) == "__metadata__") return false;
  const absl::Span<const char> stored = names_.Copy(AsChars(name));
  out_.tensors.push_back(TensorInfo{absl::string_view(stored.data(), stored.size()), *dtype,
                                    dims_.Copy(absl::MakeConstSpan(dims, rank)), begin, end});
  out_.key_offsets.push_back(key_offset);
  cursor_ = c;
  return true;
}

absl::Status Reader::ReadTensor(absl::string_view key, uint64_t key_offset) {
  const absl::Span<const char> stored = names_.Copy(key);
  const absl::string_view name(stored.data(), stored.size());
  if (cursor_.Peek() == '[') {
    // serde (the reference) would read this as a positional struct; no
    // writer produces it, so we refuse it rather than guess.
    return SchemaError(absl::StrCat(
        "tensor ", QuoteForMessage(name),
        ": entry is a positional array; it must be an object with dtype, "
        "shape and data_offsets"));
  }
  if (cursor_.Peek() != '{') {
    return WrongType(
        absl::StrCat("tensor ", QuoteForMessage(name), ": entry must be an object"));
  }
  cursor_.Advance();
  TensorInfo tensor{name, Dtype::kBool, {}, 0, 0};
  bool has_dtype = false, has_shape = false, has_offsets = false;
  absl::flat_hash_set<std::string> unknown_fields;  // allocates only if used
  SkipWhitespace();
  if (!Consume('}')) {
    for (;;) {
      SkipWhitespace();
      uint64_t field_offset = Offset();
      absl::string_view field;
      bool* seen = nullptr;
      // Fast path for the three fields as every writer spells them; any
      // other spelling (escapes, spaces before ':') takes ReadKey below and
      // means the same.
      if (cursor_.ConsumePrefix("\"dtype\":")) {
        field = "dtype";
      } else if (cursor_.ConsumePrefix("\"shape\":")) {
        field = "shape";
      } else if (cursor_.ConsumePrefix("\"data_offsets\":")) {
        field = "data_offsets";
      } else {
        SAFETENSORS_RETURN_IF_ERROR(ReadKey(field_scratch_, &field, &field_offset));
      }
      SkipWhitespace();
      if (field == "dtype") {
        seen = &has_dtype;
      } else if (field == "shape") {
        seen = &has_shape;
      } else if (field == "data_offsets") {
        seen = &has_offsets;
      }
      if (seen != nullptr && *seen) {
        return MakeError(ErrorCode::kDuplicateKey,
                         absl::StrCat("tensor ", QuoteForMessage(name),
                                      ": duplicate field \"", field,
                                      "\" at byte ", field_offset));
      }
      if (seen == &has_dtype) {
        SAFETENSORS_RETURN_IF_ERROR(ReadDtype(name, &tensor.dtype));
      } else if (seen == &has_shape) {
        SAFETENSORS_RETURN_IF_ERROR(ReadU64Array(name, "shape", numbers_));
        tensor.shape = dims_.Copy(numbers_);
      } else if (seen == &has_offsets) {
        SAFETENSORS_RETURN_IF_ERROR(ReadU64Array(name, "data_offsets", numbers_));
        if (numbers_.size() != 2) {
          return SchemaError(absl::StrCat(
              "tensor ", QuoteForMessage(name), ": data_offsets has ",
              numbers_.size(), " elements; it must be [begin, end]"));
        }
        tensor.data_begin = numbers_[0];
        tensor.data_end = numbers_[1];
      } else {
        NoteKey(unknown_fields, field, field_offset,
                absl::StrCat("tensor ", QuoteForMessage(name)), "field");
        out_.ignored_fields.emplace_back(name, field);
        // Depth 2: inside the header object and the tensor's object.
        SAFETENSORS_RETURN_IF_ERROR(SkipValue(2));
      }
      if (seen != nullptr) *seen = true;
      SAFETENSORS_ASSIGN_OR_RETURN(const bool more, ReadSeparator('}', "in a tensor entry"));
      if (!more) break;
    }
  }
  for (auto [present, field] : {std::pair<bool, absl::string_view>{has_dtype, "dtype"},
                                {has_shape, "shape"},
                                {has_offsets, "data_offsets"}}) {
    if (!present) {
      return MakeError(ErrorCode::kInvalidSchema,
                       absl::StrCat("tensor ", QuoteForMessage(name), " at byte ",
                                    key_offset, ": missing field \"", field, "\""));
    }
  }
  out_.tensors.push_back(tensor);
  out_.key_offsets.push_back(key_offset);
  return absl::OkStatus();
}

absl::Status Reader::ReadDtype(absl::string_view tensor, Dtype* dtype) {
  if (cursor_.Peek() != '"') {
    // Includes {"F32": null}, which serde reads as an enum variant; no writer
    // produces it.
    return WrongType(absl::StrCat("tensor ", QuoteForMessage(tensor),
                                  ": dtype must be a string such as \"F32\""));
  }
  absl::string_view value;
  SAFETENSORS_RETURN_IF_ERROR(ReadString(value_scratch_, &value));
  std::optional<Dtype> parsed = ParseDtype(value);
  if (!parsed.has_value()) {
    return SchemaError(absl::StrCat("tensor ", QuoteForMessage(tensor),
                                    ": unknown dtype ", QuoteForMessage(value)));
  }
  *dtype = *parsed;
  return absl::OkStatus();
}

// The one lexer of the integers a shape or data_offsets may hold: 0|[1-9][0-9]*
// up to 2^64-1. The loop takes every such number; anything else (sign,
// fraction, exponent, leading zero, more than 2^64-1) goes to the full JSON
// lexer, for a syntax error or, if it is a JSON number, a schema error.
absl::Status Reader::ReadU64Array(absl::string_view tensor,
                                  absl::string_view field,
                                  std::vector<uint64_t>& values) {
  values.clear();
  if (cursor_.Peek() != '[') {
    return WrongType(absl::StrCat("tensor ", QuoteForMessage(tensor), ": ", field,
                                  " must be an array of unsigned integers"));
  }
  cursor_.Advance();
  SkipWhitespace();
  if (Consume(']')) return absl::OkStatus();
  const auto what = [&] { return absl::StrCat("tensor ", QuoteForMessage(tensor), ": ", field); };
  for (;;) {
    SkipWhitespace();
    uint64_t value;
    SAFETENSORS_RETURN_IF_ERROR(ReadU64(what, &value));
    values.push_back(value);
    SAFETENSORS_ASSIGN_OR_RETURN(const bool more, ReadSeparator(']', "in ", field));
    if (!more) return absl::OkStatus();
  }
}

absl::Status Reader::ReadMetadata(uint64_t key_offset) {
  if (seen_metadata_) {
    return MakeError(ErrorCode::kDuplicateKey,
                     absl::StrCat("duplicate key \"__metadata__\" at byte ",
                                  key_offset));
  }
  seen_metadata_ = true;
  if (cursor_.Peek() == 'n') {
    SAFETENSORS_RETURN_IF_ERROR(ReadLiteral("null"));
    out_.metadata.reset();
    return absl::OkStatus();
  }
  if (cursor_.Peek() != '{') {
    return WrongType("__metadata__ must be an object of strings or null");
  }
  cursor_.Advance();
  MetadataEntries entries;
  absl::flat_hash_set<std::string> keys;
  SkipWhitespace();
  if (!Consume('}')) {
    for (;;) {
      uint64_t entry_offset;
      absl::string_view key, value;
      SAFETENSORS_RETURN_IF_ERROR(ReadKey(field_scratch_, &key, &entry_offset));
      if (cursor_.Peek() != '"') {
        return WrongType(absl::StrCat("__metadata__ value of ",
                                      QuoteForMessage(key), " must be a string"));
      }
      SAFETENSORS_RETURN_IF_ERROR(ReadString(value_scratch_, &value));
      NoteKey(keys, key, entry_offset, "__metadata__", "key");
      entries.emplace_back(key, value);
      SAFETENSORS_ASSIGN_OR_RETURN(const bool more, ReadSeparator('}', "in __metadata__"));
      if (!more) break;
    }
  }
  out_.metadata = std::move(entries);
  return absl::OkStatus();
}

}  // namespace

absl::Status ReadHeaderJson(absl::Span<const uint8_t> json,
                            uint64_t file_offset, StableArena<char>& names,
                            StableArena<uint64_t>& dims, RawHeader& out,
                            DuplicateKeys& duplicates) {
  return Reader(json, file_offset, names, dims, out, duplicates).ReadDocument();
}

}  // namespace internal
}  // namespace safetensors

// The strict reader for exactly the safetensors header grammar (internal to
// parser/; ParseHeader in header.h is the public entry point).
//
// Grammar: one JSON object whose keys are tensor names mapping to
//   {"dtype": STRING, "shape": [U64, ...], "data_offsets": [U64, U64], ...}
// (other fields: any JSON value, ignored) plus an optional
//   "__metadata__": null | {STRING: STRING, ...}.
// U64 is 0|[1-9][0-9]* up to 2^64-1. Whitespace is space, tab, CR, LF.
// Strings: every JSON escape, surrogate pairs joined, lone surrogates and raw
// control characters rejected. Nesting: at most 127 levels in all, as
// serde_json (the reference's JSON library) allows. The input must already be
// valid UTF-8 (ParseHeader checks that first, as the reference does).
//
// The reader checks syntax and schema only; layout rules (offsets, sizes) are
// HeaderBuilder's. Duplicate keys that the reference tolerates are not errors
// here: they go to the caller's DuplicateKeys, which rejects them after the
// reference's own checks have run.
#ifndef SAFETENSORS_PARSER_HEADER_JSON_H_
#define SAFETENSORS_PARSER_HEADER_JSON_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "parser/dtype.h"
#include "parser/json_reader.h"
#include "parser/tensor_info.h"
#include "parser/stable_arena.h"

namespace safetensors {
namespace internal {

struct RawHeader {
  // File order, repeated names included.
  std::vector<TensorInfo> tensors;
  // File offset of each tensor's key, for messages.
  std::vector<uint64_t> key_offsets;
  std::optional<MetadataEntries> metadata;
  // Unknown fields of tensor entries: {tensor, field}.
  std::vector<std::pair<std::string, std::string>> ignored_fields;
};

// Reads `json` (the header bytes, which start at byte `file_offset` of the
// file, for messages) into `out`, copying names and shapes into the arenas.
// Errors: kInvalidJson (syntax), kInvalidSchema (shape of the data),
// kDuplicateKey (a repeated dtype/shape/data_offsets field or __metadata__,
// which the reference rejects too). Repeats the reference tolerates go to
// `duplicates`.
absl::Status ReadHeaderJson(absl::Span<const uint8_t> json,
                            uint64_t file_offset, StableArena<char>& names,
                            StableArena<uint64_t>& dims, RawHeader& out,
                            DuplicateKeys& duplicates);

}  // namespace internal
}  // namespace safetensors

#endif  // SAFETENSORS_PARSER_HEADER_JSON_H_

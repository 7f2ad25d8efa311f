// Serializing a header, for writers. The output is the canonical form: the
// bytes equal the reference writer's for the same tensors and at most one
// metadata entry (with more, the reference's order is a hash map's; ours is
// the caller's).
//
//   std::vector<TensorDescription> tensors = {{"w", Dtype::kF32, {2, 3}}};
//   absl::StatusOr<SerializedHeader> h = SerializeHeader(tensors, std::nullopt);
//   write(h->bytes); then each tensors[h->layout[i].input_index]'s bytes.
//
// Canonical form: `__metadata__` first (omitted when nullopt, `{}` when
// empty), then tensors by descending dtype alignment (Dtype enum order) and
// ascending name (bytewise), offsets assigned in that order from 0, compact
// JSON escaped as serde_json escapes it, padded with spaces so the data buffer
// starts at a multiple of 8 bytes.
#ifndef SAFETENSORS_PARSER_HEADER_WRITER_H_
#define SAFETENSORS_PARSER_HEADER_WRITER_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "parser/dtype.h"
#include "parser/header.h"

namespace safetensors {

// A tensor to be written. `name` is not copied: it must outlive the call.
struct TensorDescription {
  absl::string_view name;
  Dtype dtype;
  std::vector<uint64_t> shape;
};

struct TensorPlacement {
  size_t input_index;  // which TensorDescription
  uint64_t data_begin;  // offsets into the data buffer
  uint64_t data_end;
};

struct SerializedHeader {
  std::string bytes;  // the 8-byte length and the padded JSON header
  std::vector<TensorPlacement> layout;  // in file (offset) order
  uint64_t data_size = 0;  // bytes of tensor data that must follow
};

// Errors: kBadArgument for a name or metadata string that is not UTF-8,
// or a tensor named "__metadata__"; kDuplicateKey for a repeated tensor name
// or metadata key; kValidationOverflow or kMisalignedSlice for a shape whose
// size in bytes does not fit in u64 or is not whole (sub-byte dtypes).
absl::StatusOr<SerializedHeader> SerializeHeader(
    absl::Span<const TensorDescription> tensors,
    const std::optional<MetadataEntries>& metadata);

}  // namespace safetensors

#endif  // SAFETENSORS_PARSER_HEADER_WRITER_H_

// What a header says about one tensor, and the format rules that belong to a
// tensor alone: its size in bytes and its place in the canonical order. The
// reader (header.h), the writer (header_writer.h) and the hygiene lint
// (lint.h) all call these, so each rule has exactly one implementation.
//
//   absl::StatusOr<uint64_t> bytes = TensorByteSize("w", Dtype::kF32, {2, 3});  // 24
//   CanonicalOrderLess(Dtype::kF32, "b", Dtype::kF16, "a");  // true: F32 first
#ifndef SAFETENSORS_PARSER_TENSOR_INFO_H_
#define SAFETENSORS_PARSER_TENSOR_INFO_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "parser/dtype.h"

namespace safetensors {

// One tensor as the header describes it. Views point into the Header that
// owns them and live as long as it does.
struct TensorInfo {
  absl::string_view name;            // unescaped UTF-8, may contain NUL
  Dtype dtype;
  absl::Span<const uint64_t> shape;  // empty for a scalar
  uint64_t data_begin;               // offsets into the data buffer,
  uint64_t data_end;                 // which starts at Header::data_offset()

  uint64_t num_bytes() const { return data_end - data_begin; }
  // Product of shape (1 for a scalar); cannot overflow in a parsed header.
  uint64_t num_elements() const;
};

bool operator==(const TensorInfo& a, const TensorInfo& b);
inline bool operator!=(const TensorInfo& a, const TensorInfo& b) {
  return !(a == b);
}

// `__metadata__` in file order.
using MetadataEntries = std::vector<std::pair<std::string, std::string>>;

// The size rule exactly as the reference applies it: the element count folded
// left to right with overflow checks (so [2^40, 2^40, 0] overflows before the
// zero is reached), times the dtype's bits, in whole bytes. `name` is for the
// message only.
// Errors: kValidationOverflow, kMisalignedSlice.
absl::StatusOr<uint64_t> ReferenceByteSize(absl::string_view name, Dtype dtype,
                                           absl::Span<const uint64_t> shape);

// Our stricter rule, independent of dimension order: ignoring zero
// dimensions, the product of the dimensions times the bit size fits in u64.
// The reference passes [0, 2^32, 2^32] yet fails [2^32, 2^32, 0]; both
// describe an impossible tensor.
// Errors: kValidationOverflow.
absl::Status CheckSizeIgnoringZeroDims(absl::string_view name, Dtype dtype,
                                       absl::Span<const uint64_t> shape);

// Both rules, in the reference's order: the byte size a writer must reserve.
// Errors: kValidationOverflow, kMisalignedSlice.
absl::StatusOr<uint64_t> TensorByteSize(absl::string_view name, Dtype dtype,
                                        absl::Span<const uint64_t> shape);

// The canonical writer's order: descending dtype alignment (Dtype enum order,
// descending), then ascending name (bytewise).
bool CanonicalOrderLess(Dtype a_dtype, absl::string_view a_name, Dtype b_dtype,
                        absl::string_view b_name);

// "[2, 3]", cut short for a hostile rank of 100,000.
std::string ShapeForMessage(absl::Span<const uint64_t> shape);

}  // namespace safetensors

#endif  // SAFETENSORS_PARSER_TENSOR_INFO_H_

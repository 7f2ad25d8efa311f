// The safetensors dtypes: names, bit sizes, and the writer's ordering.
//
//   std::optional<Dtype> d = ParseDtype("BF16");   // Dtype::kBF16
//   DtypeBits(*d);                                  // 16
//   DtypeName(Dtype::kF8_E4M3);                     // "F8_E4M3"
#ifndef SAFETENSORS_PARSER_DTYPE_H_
#define SAFETENSORS_PARSER_DTYPE_H_

#include <cstdint>
#include <optional>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace safetensors {

// Declared in the reference implementation's order, which is increasing
// alignment: writers sort tensors by this order, descending, then by name, so
// the enum's numeric order is part of the file format's canonical form.
enum class Dtype : uint8_t {
  kBool,
  kF4,
  kF6_E2M3,
  kF6_E3M2,
  kU8,
  kI8,
  kF8_E5M2,
  kF8_E4M3,
  kF8_E8M0,
  kF8_E4M3FNUZ,
  kF8_E5M2FNUZ,
  kI16,
  kU16,
  kF16,
  kBF16,
  kI32,
  kU32,
  kF32,
  kC64,
  kF64,
  kI64,
  kU64,
};

// Every dtype, in enum order.
absl::Span<const Dtype> AllDtypes();

// The dtype spelled exactly `name` (case-sensitive, no surrounding spaces);
// nullopt for anything else.
std::optional<Dtype> ParseDtype(absl::string_view name);

// The exact spelling used in headers, e.g. "F8_E4M3".
absl::string_view DtypeName(Dtype dtype);

// Bits per element: 4 (F4), 6 (F6_*), 8, 16, 32 or 64.
uint64_t DtypeBits(Dtype dtype);

// Bytes a single element is aligned to in a canonically written file: the
// element size rounded up to whole bytes (1 for sub-byte dtypes).
uint64_t DtypeAlignment(Dtype dtype);

}  // namespace safetensors

#endif  // SAFETENSORS_PARSER_DTYPE_H_

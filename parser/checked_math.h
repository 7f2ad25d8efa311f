// Overflow-checked unsigned arithmetic: the one place where sums and products
// of untrusted numbers are computed. Every size, offset and element count
// derived from a header goes through these.
//
//   uint64_t bits;
//   if (!CheckedMul(elements, DtypeBits(dtype), &bits)) return overflow error;
#ifndef SAFETENSORS_PARSER_CHECKED_MATH_H_
#define SAFETENSORS_PARSER_CHECKED_MATH_H_

#include <cstdint>

#include "absl/base/attributes.h"

namespace safetensors {

// *result = a + b; false (and *result unspecified) when it does not fit.
ABSL_MUST_USE_RESULT inline bool CheckedAdd(uint64_t a, uint64_t b,
                                            uint64_t* result) {
  return !__builtin_add_overflow(a, b, result);
}

// *result = a * b; false (and *result unspecified) when it does not fit.
ABSL_MUST_USE_RESULT inline bool CheckedMul(uint64_t a, uint64_t b,
                                            uint64_t* result) {
  return !__builtin_mul_overflow(a, b, result);
}

}  // namespace safetensors

#endif  // SAFETENSORS_PARSER_CHECKED_MATH_H_

// Strict UTF-8 validation (RFC 3629): no overlong forms, no surrogates
// (U+D800..U+DFFF), nothing above U+10FFFF, no truncated sequences.
#ifndef SAFETENSORS_PARSER_UTF8_H_
#define SAFETENSORS_PARSER_UTF8_H_

#include <cstddef>
#include <cstdint>
#include <optional>

#include "absl/types/span.h"

namespace safetensors {

// The offset of the first byte that starts an invalid sequence, or nullopt
// when all of `bytes` is valid UTF-8.
std::optional<size_t> FindInvalidUtf8(absl::Span<const uint8_t> bytes);

}  // namespace safetensors

#endif  // SAFETENSORS_PARSER_UTF8_H_

// Strict UTF-8 validation (RFC 3629): no overlong forms, no surrogates
// (U+D800..U+DFFF), nothing above U+10FFFF, no truncated sequences.
#ifndef SAFETENSORS_PARSER_UTF8_H_
#define SAFETENSORS_PARSER_UTF8_H_

#include <cstddef>
#include <cstdint>
#include <optional>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace safetensors {

// The offset of the first byte that starts an invalid sequence, or nullopt
// when all of `bytes` is valid UTF-8.
std::optional<size_t> FindInvalidUtf8(absl::Span<const uint8_t> bytes);

// A character a terminal obeys rather than shows, starting at `text[at]`:
// C0 controls and DEL (1 byte), C1 controls U+0080..U+009F (2 bytes; some
// terminals take U+009B as an escape sequence), and the line separators and
// bidi controls U+2028..U+202E and U+2066..U+2069 (3 bytes; they reorder or
// hide text). Returns its length in bytes and sets *code_point, or returns 0.
// Printers of file-controlled text escape these (error.h's EscapeText, the
// CLI's JSON).
size_t TerminalControlAt(absl::string_view text, size_t at, uint32_t* code_point);

}  // namespace safetensors

#endif  // SAFETENSORS_PARSER_UTF8_H_

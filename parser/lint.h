// Hygiene of a valid header: what the format tolerates but a careful writer
// avoids, reported by `safetensors check --strict`. Nothing here rejects a
// file; ParseHeader (header.h) is the only judge of validity.
//
//   absl::StatusOr<Header> header = ParseHeader(bytes);
//   for (const std::string& w : HygieneWarnings(*header)) std::cerr << w << "\n";
#ifndef SAFETENSORS_PARSER_LINT_H_
#define SAFETENSORS_PARSER_LINT_H_

#include <string>
#include <vector>

#include "parser/header.h"

namespace safetensors {

// One line per finding, file-controlled text quoted and escaped
// (QuoteForMessage): a header not padded to a multiple of 8 bytes; unknown
// fields in tensor entries; tensors not in the canonical writer's order
// (tensor_info.h); tensors whose data is misaligned for their dtype. Each kind
// lists at most 10 findings, then a count of the rest.
std::vector<std::string> HygieneWarnings(const Header& header);

}  // namespace safetensors

#endif  // SAFETENSORS_PARSER_LINT_H_

// Writing JSON strings as serde_json (the reference's JSON library) writes
// them: `"` and `\` escaped, \b \f \n \r \t for those controls, \u00xx (lower
// case) for the other controls, everything else (DEL, non-ASCII) raw. Used by
// the header writer (byte-identical headers) and the CLI's JSON output.
#ifndef SAFETENSORS_PARSER_JSON_STRING_H_
#define SAFETENSORS_PARSER_JSON_STRING_H_

#include <string>

#include "absl/strings/string_view.h"

namespace safetensors {

// Appends `text` to `out` as a quoted JSON string.
void AppendJsonString(absl::string_view text, std::string& out);

// The same JSON value, with every character a terminal obeys (utf8.h's
// TerminalControlAt: DEL, C1 controls, bidi controls) also written as \u
// escapes, so that JSON printed to a terminal cannot drive it. For the CLI's
// JSON output, never for file headers.
std::string JsonStringForTerminal(absl::string_view text);

// `text` as a quoted JSON string.
inline std::string JsonString(absl::string_view text) {
  std::string out;
  AppendJsonString(text, out);
  return out;
}

}  // namespace safetensors

#endif  // SAFETENSORS_PARSER_JSON_STRING_H_

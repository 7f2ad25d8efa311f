#include "parser/json_string.h"

#include "absl/strings/str_cat.h"
#include "parser/utf8.h"

namespace safetensors {

void AppendJsonString(absl::string_view text, std::string& out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  for (char c : text) {
    const unsigned char byte = static_cast<unsigned char>(c);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (byte < 0x20) {
          out += "\\u00";
          out.push_back(kHex[byte >> 4]);
          out.push_back(kHex[byte & 0xF]);
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
}

std::string JsonStringForTerminal(absl::string_view text) {
  std::string out;
  size_t plain_from = 0;
  out.push_back('"');
  auto flush_plain = [&](size_t end) {
    std::string piece;
    AppendJsonString(text.substr(plain_from, end - plain_from), piece);
    out.append(piece, 1, piece.size() - 2);  // without its quotes
  };
  for (size_t i = 0; i < text.size();) {
    uint32_t code_point;
    const size_t length = TerminalControlAt(text, i, &code_point);
    // C0 controls are already escaped by AppendJsonString.
    if (length == 0 || code_point < 0x20) {
      i += length == 0 ? 1 : length;
      continue;
    }
    flush_plain(i);
    absl::StrAppend(&out, "\\u", absl::Hex(code_point, absl::kZeroPad4));
    i += length;
    plain_from = i;
  }
  flush_plain(text.size());
  out.push_back('"');
  return out;
}

}  // namespace safetensors

#include "parser/checkpoint_index_writer.h"

#include "absl/strings/str_cat.h"
#include "parser/error.h"
#include "parser/status_macros.h"
#include "parser/utf8.h"

namespace safetensors {
namespace {

void AppendU16Escape(uint32_t unit, std::string& out) {
  absl::StrAppend(&out, "\\u", absl::Hex(unit, absl::kZeroPad4));
}

// `text` as Python's json.dumps(ensure_ascii=True) writes a string.
absl::Status AppendPythonJsonString(absl::string_view text, std::string& out) {
  const absl::Span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(text.data()),
                                        text.size());
  if (std::optional<size_t> bad = FindInvalidUtf8(bytes)) {
    return MakeError(ErrorCode::kBadArgument,
                     absl::StrCat(QuoteForMessage(text), " is not valid UTF-8 at byte ", *bad));
  }
  out.push_back('"');
  for (size_t i = 0; i < bytes.size();) {
    const uint8_t b = bytes[i];
    if (b < 0x80) {
      switch (b) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        case '\b': out += "\\b"; break;
        case '\f': out += "\\f"; break;
        default:
          if (b < 0x20 || b == 0x7F) {
            AppendU16Escape(b, out);
          } else {
            out.push_back(static_cast<char>(b));
          }
      }
      ++i;
      continue;
    }
    // Valid UTF-8 (checked above): decode one code point.
    const size_t length = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : 2;
    uint32_t code_point = b & (length == 2 ? 0x1Fu : length == 3 ? 0x0Fu : 0x07u);
    for (size_t k = 1; k < length; ++k) code_point = (code_point << 6) | (bytes[i + k] & 0x3Fu);
    if (code_point >= 0x10000) {
      const uint32_t v = code_point - 0x10000;
      AppendU16Escape(0xD800 + (v >> 10), out);
      AppendU16Escape(0xDC00 + (v & 0x3FF), out);
    } else {
      AppendU16Escape(code_point, out);
    }
    i += length;
  }
  out.push_back('"');
  return absl::OkStatus();
}

bool IsJsonNumber(absl::string_view text) {
  size_t i = 0;
  auto digits = [&] {
    const size_t start = i;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
    return i > start;
  };
  if (i < text.size() && text[i] == '-') ++i;
  if (i < text.size() && text[i] == '0') {
    ++i;
  } else if (!digits()) {
    return false;
  }
  if (i < text.size() && text[i] == '.') {
    ++i;
    if (!digits()) return false;
  }
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    if (i < text.size() && (text[i] == '+' || text[i] == '-')) ++i;
    if (!digits()) return false;
  }
  return i == text.size();
}

}  // namespace

absl::StatusOr<std::string> SerializeCheckpointIndex(
    absl::Span<const IndexMetadataEntry> metadata,
    absl::Span<const std::pair<std::string, std::string>> weight_map, int indent) {
  const std::string one(static_cast<size_t>(indent), ' ');
  const std::string two = one + one;
  std::string out = absl::StrCat("{\n", one, "\"metadata\": {");
  for (size_t i = 0; i < metadata.size(); ++i) {
    out += absl::StrCat(i == 0 ? "\n" : ",\n", two);
    SAFETENSORS_RETURN_IF_ERROR(AppendPythonJsonString(metadata[i].key, out));
    out += ": ";
    if (metadata[i].is_number) {
      if (!IsJsonNumber(metadata[i].value)) {
        return MakeError(ErrorCode::kBadArgument,
                         absl::StrCat("metadata ", QuoteForMessage(metadata[i].key), ": ",
                                      QuoteForMessage(metadata[i].value), " is not a number"));
      }
      out += metadata[i].value;
    } else {
      SAFETENSORS_RETURN_IF_ERROR(AppendPythonJsonString(metadata[i].value, out));
    }
  }
  out += metadata.empty() ? "}" : absl::StrCat("\n", one, "}");
  out += absl::StrCat(",\n", one, "\"weight_map\": {");
  for (size_t i = 0; i < weight_map.size(); ++i) {
    out += absl::StrCat(i == 0 ? "\n" : ",\n", two);
    SAFETENSORS_RETURN_IF_ERROR(AppendPythonJsonString(weight_map[i].first, out));
    out += ": ";
    SAFETENSORS_RETURN_IF_ERROR(AppendPythonJsonString(weight_map[i].second, out));
  }
  out += weight_map.empty() ? "}" : absl::StrCat("\n", one, "}");
  out += "\n}";
  return out;
}

}  // namespace safetensors

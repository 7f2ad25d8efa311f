#include "parser/checksum_list.h"

#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"

namespace safetensors {
namespace {

constexpr size_t kHexDigits = 64;

bool IsHex(absl::string_view text) {
  if (text.size() != kHexDigits) return false;
  for (char c : text) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

// `name` with sha256sum's escapes undone; nullopt for an escape it never
// writes (or a NUL, which no file name holds).
std::optional<std::string> Unescape(absl::string_view name) {
  std::string out;
  for (size_t i = 0; i < name.size(); ++i) {
    if (name[i] == '\0') return std::nullopt;
    if (name[i] != '\\') {
      out.push_back(name[i]);
      continue;
    }
    if (++i == name.size()) return std::nullopt;
    switch (name[i]) {
      case '\\': out.push_back('\\'); break;
      case 'n': out.push_back('\n'); break;
      case 'r': out.push_back('\r'); break;
      default: return std::nullopt;
    }
  }
  return out;
}

// One line, without its newline; nullopt when it is not one of the forms.
std::optional<ChecksumEntry> ParseLine(absl::string_view line) {
  // A list written on Windows: sha256sum -c drops the carriage return too.
  absl::ConsumeSuffix(&line, "\r");
  const bool escaped = absl::ConsumePrefix(&line, "\\");
  absl::string_view digest, name;
  if (absl::ConsumePrefix(&line, "SHA256 (")) {
    // Tagged: the name runs to the last ") = ".
    const size_t end = line.rfind(") = ");
    if (end == absl::string_view::npos) return std::nullopt;
    name = line.substr(0, end);
    digest = line.substr(end + 4);
  } else {
    if (line.size() < kHexDigits + 2 || line[kHexDigits] != ' ' ||
        (line[kHexDigits + 1] != ' ' && line[kHexDigits + 1] != '*')) {
      return std::nullopt;
    }
    digest = line.substr(0, kHexDigits);
    name = line.substr(kHexDigits + 2);
  }
  if (!IsHex(digest) || name.empty()) return std::nullopt;
  std::optional<std::string> unescaped =
      escaped ? Unescape(name) : std::optional<std::string>(std::string(name));
  if (!unescaped.has_value() || unescaped->empty() || absl::StrContains(*unescaped, '\0')) {
    return std::nullopt;
  }
  return ChecksumEntry{*std::move(unescaped), absl::AsciiStrToLower(digest), 0};
}

}  // namespace

ChecksumList ParseSha256Sums(absl::string_view text) {
  ChecksumList list;
  if (text.empty()) return list;
  absl::ConsumeSuffix(&text, "\n");  // the last line's newline starts no line
  size_t number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++number;
    std::optional<ChecksumEntry> entry = ParseLine(line);
    if (!entry.has_value()) {
      list.malformed_lines.push_back(number);
      continue;
    }
    entry->line = number;
    list.entries.push_back(*std::move(entry));
  }
  return list;
}

}  // namespace safetensors

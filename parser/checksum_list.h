// A `sha256sum` checksum list, read as `sha256sum -c` reads it: one file a
// line, `<64 hex> <space or *><name>` (text or binary mode, no difference on
// POSIX), a line starting with `\` when the name holds `\`, a newline or a
// carriage return (escaped as `\\`, `\n`, `\r`), or the tagged form
// `SHA256 (<name>) = <64 hex>`; a line's final carriage return (CRLF lists)
// is dropped, as `sha256sum -c` drops it. Other lines (blank ones included) are
// counted as improperly formatted, as `sha256sum -c` warns of them, and
// never stop the rest. The list is a caller's file, but read as untrusted:
// nothing here opens what it names.
//
//   ChecksumList list = ParseSha256Sums(text);
//   for (const ChecksumEntry& e : list.entries) { ... e.name, e.sha256_hex ... }
#ifndef SAFETENSORS_PARSER_CHECKSUM_LIST_H_
#define SAFETENSORS_PARSER_CHECKSUM_LIST_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace safetensors {

struct ChecksumEntry {
  std::string name;        // unescaped; may hold any byte but NUL
  std::string sha256_hex;  // 64 digits, lower case
  size_t line = 0;         // 1-based
};

struct ChecksumList {
  std::vector<ChecksumEntry> entries;  // in line order
  std::vector<size_t> malformed_lines;  // 1-based
};

ChecksumList ParseSha256Sums(absl::string_view text);

}  // namespace safetensors

#endif  // SAFETENSORS_PARSER_CHECKSUM_LIST_H_

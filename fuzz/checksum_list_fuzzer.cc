// Arbitrary bytes as a sha256sum list -> ParseSha256Sums, and its invariants:
// every line is either an entry or counted malformed, in order; each entry's
// digest is 64 lower-case hex digits and its name non-empty without NUL; and
// the entries written back as sha256sum writes them (escaping a name with a
// backslash, newline or carriage return) parse to the same entries.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>

#include "fuzz/header_invariants.h"
#include "parser/checksum_list.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace safetensors;
  using fuzzing::Require;
  // An exact-size copy, so ASan flags any read one past the end.
  std::unique_ptr<char[]> copy(new char[size]);
  if (size > 0) std::memcpy(copy.get(), data, size);
  const absl::string_view text(copy.get(), size);
  const ChecksumList list = ParseSha256Sums(text);

  size_t lines = 0;
  if (!text.empty()) {
    lines = static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
    if (text.back() != '\n') ++lines;
  }
  Require(list.entries.size() + list.malformed_lines.size() == lines, "every line is counted once");
  size_t previous = 0;
  std::string written;
  for (const ChecksumEntry& e : list.entries) {
    Require(e.line > previous && e.line <= lines, "entries in line order");
    previous = e.line;
    Require(e.sha256_hex.size() == 64, "64 digits");
    for (char c : e.sha256_hex) {
      Require((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'), "lower-case hex");
    }
    Require(!e.name.empty() && e.name.find('\0') == std::string::npos, "a name without NUL");
    std::string name;
    bool escaped = false;
    for (char c : e.name) {
      if (c == '\\') { name += "\\\\"; escaped = true; }
      else if (c == '\n') { name += "\\n"; escaped = true; }
      else if (c == '\r') { name += "\\r"; escaped = true; }
      else { name.push_back(c); }
    }
    written += (escaped ? "\\" : "") + e.sha256_hex + "  " + name + "\n";
  }
  const ChecksumList again = ParseSha256Sums(written);
  Require(again.malformed_lines.empty(), "written entries are well formed");
  Require(again.entries.size() == list.entries.size(), "as many entries");
  for (size_t i = 0; i < list.entries.size(); ++i) {
    Require(again.entries[i].name == list.entries[i].name &&
                again.entries[i].sha256_hex == list.entries[i].sha256_hex,
            "the same entries");
  }
  return 0;
}

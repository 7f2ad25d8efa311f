#include "parser/utf8.h"

#include "parser/byte_cursor.h"

namespace safetensors {
namespace {

// Headers are nearly all ASCII, so skip ASCII 32 bytes at a time, then 8.
void SkipAsciiWords(ByteCursor& cursor) {
  constexpr uint64_t kHigh = 0x8080808080808080ULL;
  uint64_t a, b, c, d;
  while (cursor.PeekWord(&a) && cursor.PeekWord(&b, 8) && cursor.PeekWord(&c, 16) &&
         cursor.PeekWord(&d, 24) && ((a | b | c | d) & kHigh) == 0) {
    (void)cursor.Skip(32);
  }
  while (cursor.PeekWord(&a) && (a & kHigh) == 0) (void)cursor.Skip(8);
}

bool InRange(int byte, int low, int high) { return byte >= low && byte <= high; }

}  // namespace

std::optional<size_t> FindInvalidUtf8(absl::Span<const uint8_t> bytes) {
  ByteCursor cursor(bytes);
  while (!cursor.AtEnd()) {
    SkipAsciiWords(cursor);
    const size_t start = cursor.position();
    const int lead = cursor.Peek();
    if (lead < 0) break;
    if (lead < 0x80) {
      cursor.Advance();
      continue;
    }
    // The range the second byte must fall in is what excludes overlong forms
    // (E0, F0), surrogates (ED) and code points above U+10FFFF (F4).
    size_t length;
    int second_low = 0x80, second_high = 0xBF;
    if (InRange(lead, 0xC2, 0xDF)) {
      length = 2;
    } else if (InRange(lead, 0xE0, 0xEF)) {
      length = 3;
      if (lead == 0xE0) second_low = 0xA0;
      if (lead == 0xED) second_high = 0x9F;
    } else if (InRange(lead, 0xF0, 0xF4)) {
      length = 4;
      if (lead == 0xF0) second_low = 0x90;
      if (lead == 0xF4) second_high = 0x8F;
    } else {
      return start;  // continuation byte, C0/C1 overlong lead, or F5..FF
    }
    if (!InRange(cursor.PeekAt(1), second_low, second_high)) return start;
    for (size_t i = 2; i < length; ++i) {
      if (!InRange(cursor.PeekAt(i), 0x80, 0xBF)) return start;
    }
    if (!cursor.Skip(length)) return start;
  }
  return std::nullopt;
}

size_t TerminalControlAt(absl::string_view text, size_t at, uint32_t* code_point) {
  if (at >= text.size()) return 0;
  const auto byte = [&](size_t i) { return static_cast<uint32_t>(static_cast<uint8_t>(text[i])); };
  const uint32_t lead = byte(at);
  if (lead < 0x20 || lead == 0x7F) {
    *code_point = lead;
    return 1;
  }
  const size_t rest = text.size() - at;
  if (lead == 0xC2 && rest >= 2 && (byte(at + 1) & 0xE0) == 0x80) {
    *code_point = byte(at + 1);  // C2 80..C2 9F encode U+0080..U+009F
    return 2;
  }
  if (lead == 0xE2 && rest >= 3 && (byte(at + 1) & 0xC0) == 0x80 &&
      (byte(at + 2) & 0xC0) == 0x80) {
    const uint32_t value = ((lead & 0x0F) << 12) | ((byte(at + 1) & 0x3F) << 6) |
                           (byte(at + 2) & 0x3F);
    if ((value >= 0x2028 && value <= 0x202E) || (value >= 0x2066 && value <= 0x2069)) {
      *code_point = value;
      return 3;
    }
  }
  return 0;
}

}  // namespace safetensors

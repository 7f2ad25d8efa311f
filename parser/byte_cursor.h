// A read position inside a span of untrusted bytes: the only way the parser
// reads input. Every access checks the remaining length first, comparing
// against headroom (`n > remaining()`) so no sum can wrap; no pointer into
// the input is formed before its range has been checked.
//
//   ByteCursor cursor(bytes);
//   while (cursor.Peek() == ' ') cursor.Advance();
//   absl::Span<const uint8_t> word;
//   if (!cursor.Take(4, &word)) return error;
#ifndef SAFETENSORS_PARSER_BYTE_CURSOR_H_
#define SAFETENSORS_PARSER_BYTE_CURSOR_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "absl/base/attributes.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace safetensors {

// The scans behind ByteCursor::Count and CountUntilControlOr: sixteen bytes
// at a time where SSE2 exists, else eight (GCC does not vectorize a plain
// loop at -O2, and memchr pays a call per match). Free functions of a span,
// so that a cursor kept in a local variable never has its address taken
// (a parser's cursor then stays in registers).
size_t CountByte(absl::Span<const uint8_t> bytes, uint8_t byte);
size_t BytesBeforeControlOr(absl::Span<const uint8_t> bytes, uint8_t a, uint8_t b);

class ByteCursor {
 public:
  // Does not copy `bytes`; they must outlive the cursor.
  explicit ByteCursor(absl::Span<const uint8_t> bytes) : bytes_(bytes) {}

  size_t position() const { return position_; }
  size_t remaining() const { return bytes_.size() - position_; }
  bool AtEnd() const { return position_ == bytes_.size(); }

  // The unread bytes.
  absl::Span<const uint8_t> rest() const { return bytes_.subspan(position_); }

  // The next byte, or -1 at the end.
  int Peek() const { return AtEnd() ? -1 : bytes_[position_]; }

  // The 8 bytes starting `ahead` bytes past the position, as a little-endian
  // word, without moving; false (and *word untouched) when fewer remain. For
  // scanning 8 bytes at a time.
  ABSL_MUST_USE_RESULT bool PeekWord(uint64_t* word, size_t ahead = 0) const {
    if (ahead > remaining() || remaining() - ahead < 8) return false;
    std::memcpy(word, bytes_.data() + position_ + ahead, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    *word = __builtin_bswap64(*word);
#endif
    return true;
  }

  // The byte `ahead` positions past the next one, or -1 past the end.
  int PeekAt(size_t ahead) const {
    return ahead >= remaining() ? -1 : bytes_[position_ + ahead];
  }

  // Moves past the next byte; false (and no move) at the end.
  bool Advance() { return Skip(1); }

  // Moves past `n` bytes; false (and no move) when fewer remain.
  ABSL_MUST_USE_RESULT bool Skip(size_t n) {
    if (n > remaining()) return false;
    position_ += n;
    return true;
  }

  // The next `n` bytes, consumed; false (and no move) when fewer remain.
  ABSL_MUST_USE_RESULT bool Take(size_t n, absl::Span<const uint8_t>* out) {
    if (n > remaining()) return false;
    *out = bytes_.subspan(position_, n);
    position_ += n;
    return true;
  }

  // If the unread bytes start with `text`, consumes them and returns true.
  bool ConsumePrefix(absl::string_view text) {
    if (text.size() > remaining() ||
        std::memcmp(bytes_.data() + position_, text.data(), text.size()) != 0) {
      return false;
    }
    position_ += text.size();
    return true;
  }

  // The next `n` (<= 8) bytes as a little-endian unsigned number, consumed;
  // false (and no move, *value untouched) when fewer remain. For the binary
  // formats (zip records, pickle operands).
  ABSL_MUST_USE_RESULT bool TakeLittleEndian(size_t n, uint64_t* value) {
    if (n > 8 || n > remaining()) return false;
    uint64_t result = 0;
    for (size_t i = n; i > 0; --i) {
      result = (result << 8) | bytes_[position_ + i - 1];
    }
    position_ += n;
    *value = result;
    return true;
  }

  // How many of the unread bytes equal `byte` (CountByte below).
  size_t Count(uint8_t byte) const { return CountByte(rest(), byte); }

  // How many bytes from the position come before the first one that is a
  // control byte (below 0x20) or equals `a` or `b`; remaining() if none is.
  // With '"' and '\\', the run a JSON string holds verbatim.
  size_t CountUntilControlOr(uint8_t a, uint8_t b) const {
    return BytesBeforeControlOr(rest(), a, b);
  }

  // Consumes the ASCII decimal digits from the position, at most
  // `max_digits` (<= 19, so that the value cannot overflow); returns how many
  // and their value in *value (0 when there are none).
  size_t TakeDigits(size_t max_digits, uint64_t* value) {
    uint64_t result = 0;
    size_t n = 0;
    const size_t most = std::min(max_digits, remaining());
    for (; n < most; ++n) {
      const uint64_t digit = static_cast<uint64_t>(bytes_[position_ + n]) - uint64_t{'0'};
      if (digit > 9) break;
      result = result * 10 + digit;
    }
    position_ += n;
    *value = result;
    return n;
  }

  // How many bytes from the current position satisfy `pred`, without moving.
  template <typename Predicate>
  size_t CountWhile(Predicate pred) const {
    size_t n = position_;
    while (n < bytes_.size() && pred(bytes_[n])) ++n;
    return n - position_;
  }

 private:
  absl::Span<const uint8_t> bytes_;
  size_t position_ = 0;
};

// The same bytes seen as text or as bytes (char and uint8_t views of one
// buffer; nothing is copied).
inline absl::string_view TextOf(absl::Span<const uint8_t> bytes) {
  return absl::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}
inline absl::Span<const uint8_t> BytesOf(absl::string_view text) {
  return absl::Span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size());
}

// The little-endian u64 in the first 8 bytes of `bytes`; false when shorter.
ABSL_MUST_USE_RESULT inline bool ReadLittleEndian64(
    absl::Span<const uint8_t> bytes, uint64_t* value) {
  return ByteCursor(bytes).PeekWord(value);
}

}  // namespace safetensors

#endif  // SAFETENSORS_PARSER_BYTE_CURSOR_H_

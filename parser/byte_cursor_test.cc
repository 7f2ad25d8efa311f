#include "parser/byte_cursor.h"

#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace safetensors {
namespace {

TEST(ByteCursorTest, NeverMovesPastTheEnd) {
  const std::vector<uint8_t> bytes = {'a', 'b', 'c'};
  ByteCursor cursor(bytes);
  EXPECT_EQ(cursor.Peek(), 'a');
  EXPECT_EQ(cursor.PeekAt(2), 'c');
  EXPECT_EQ(cursor.PeekAt(3), -1);
  EXPECT_EQ(cursor.PeekAt(SIZE_MAX), -1);
  EXPECT_FALSE(cursor.Skip(4));
  EXPECT_FALSE(cursor.Skip(SIZE_MAX));
  EXPECT_EQ(cursor.position(), 0u);
  absl::Span<const uint8_t> taken;
  EXPECT_TRUE(cursor.Take(2, &taken));
  EXPECT_EQ(taken.size(), 2u);
  EXPECT_EQ(cursor.remaining(), 1u);
  EXPECT_FALSE(cursor.Take(2, &taken));
  EXPECT_TRUE(cursor.Advance());
  EXPECT_TRUE(cursor.AtEnd());
  EXPECT_EQ(cursor.Peek(), -1);
  EXPECT_FALSE(cursor.Advance());
}

TEST(ByteCursorTest, CountWhileStopsAtTheEnd) {
  const std::vector<uint8_t> bytes = {'1', '2', 'x', '3'};
  ByteCursor cursor(bytes);
  EXPECT_EQ(cursor.CountWhile([](uint8_t b) { return b >= '0' && b <= '9'; }), 2u);
  EXPECT_EQ(cursor.CountWhile([](uint8_t) { return true; }), 4u);
}

TEST(ByteCursorTest, CountsOccurrencesOfAByte) {
  const std::vector<uint8_t> bytes = {'{', 'a', '{', '{', 'b', '{'};
  ByteCursor cursor(bytes);
  EXPECT_EQ(cursor.Count('{'), 4u);
  EXPECT_EQ(cursor.Count('a'), 1u);
  EXPECT_EQ(cursor.Count('z'), 0u);
  ASSERT_TRUE(cursor.Skip(3));
  EXPECT_EQ(cursor.Count('{'), 2u);
  ASSERT_TRUE(cursor.Skip(3));
  EXPECT_EQ(cursor.Count('{'), 0u);
}

// Count works a word at a time: compare it with a byte loop for every byte
// value that matters to its bit tricks (0x00, 0x7F, 0x80, 0xFF and their
// neighbours), at every starting position and tail length.
TEST(ByteCursorTest, CountAgreesWithAByteLoop) {
  std::mt19937 random(7);
  const std::vector<uint8_t> values = {0x00, 0x01, 0x7E, 0x7F, 0x80, 0x81, 0xFE, 0xFF, '{', '"'};
  std::vector<uint8_t> bytes(67);
  for (int round = 0; round < 200; ++round) {
    for (uint8_t& b : bytes) b = values[random() % values.size()];
    for (size_t start = 0; start <= bytes.size(); ++start) {
      ByteCursor cursor(bytes);
      ASSERT_TRUE(cursor.Skip(start));
      for (uint8_t wanted : values) {
        const size_t expected = static_cast<size_t>(
            std::count(bytes.begin() + static_cast<ptrdiff_t>(start), bytes.end(), wanted));
        ASSERT_EQ(cursor.Count(wanted), expected) << "byte " << int{wanted} << " from " << start;
      }
    }
  }
}

// More than 255 sixteen-byte blocks of matches: the per-lane counters are
// summed before any can wrap.
TEST(ByteCursorTest, CountsLongRunsOfMatches) {
  for (size_t size : {4079u, 4080u, 4096u, 10'000u, 65'537u}) {
    std::vector<uint8_t> bytes(size, '{');
    bytes[size / 2] = 'x';
    EXPECT_EQ(ByteCursor(bytes).Count('{'), size - 1) << size;
    EXPECT_EQ(ByteCursor(bytes).Count('x'), 1u) << size;
  }
}

// Same for the string scan: one stop byte (or none) placed at every position
// of every tail length, among bytes that must not stop it (0x20, 0x7F, 0x80,
// 0xFF are the edges of its comparisons).
TEST(ByteCursorTest, CountUntilControlOrAgreesWithAByteLoop) {
  std::mt19937 random(11);
  const std::vector<uint8_t> plain = {0x20, 0x21, 0x7F, 0x80, 0x9F, 0xFF, 'a', '{'};
  const std::vector<uint8_t> stops = {0x00, 0x01, 0x1F, '"', '\\'};
  for (size_t length = 0; length <= 50; ++length) {
    for (size_t stop_at = 0; stop_at <= length; ++stop_at) {  // length: no stop byte
      std::vector<uint8_t> bytes(length + 3);
      for (uint8_t& b : bytes) b = plain[random() % plain.size()];
      if (stop_at < length) bytes[3 + stop_at] = stops[random() % stops.size()];
      ByteCursor cursor(bytes);
      ASSERT_TRUE(cursor.Skip(3));
      ASSERT_EQ(cursor.CountUntilControlOr('"', '\\'), stop_at) << "length " << length;
    }
  }
}

TEST(ByteCursorTest, TakeDigitsStopsAtANonDigitTheLimitOrTheEnd) {
  const std::vector<uint8_t> bytes = {'0', '7', '2', ',', '9', '/', ':'};
  ByteCursor cursor(bytes);
  uint64_t value = 99;
  EXPECT_EQ(cursor.TakeDigits(19, &value), 3u);
  EXPECT_EQ(value, 72u);
  EXPECT_EQ(cursor.Peek(), ',');
  EXPECT_EQ(cursor.TakeDigits(19, &value), 0u);
  EXPECT_EQ(value, 0u);
  ASSERT_TRUE(cursor.Advance());
  EXPECT_EQ(cursor.TakeDigits(19, &value), 1u);  // '/' and ':' border the digits
  EXPECT_EQ(value, 9u);
  EXPECT_EQ(cursor.Peek(), '/');

  const std::vector<uint8_t> long_number(25, '9');
  ByteCursor digits(long_number);
  EXPECT_EQ(digits.TakeDigits(19, &value), 19u);
  EXPECT_EQ(value, 9'999'999'999'999'999'999ULL);
  EXPECT_EQ(digits.TakeDigits(19, &value), 6u);  // stops at the end
  EXPECT_EQ(value, 999'999u);
  EXPECT_TRUE(digits.AtEnd());
}

TEST(ByteCursorTest, PeekWordChecksBounds) {
  const std::vector<uint8_t> bytes = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  ByteCursor cursor(bytes);
  uint64_t word = 0;
  EXPECT_TRUE(cursor.PeekWord(&word, 1));
  EXPECT_EQ(word, 0x0908070605040302ULL);
  EXPECT_FALSE(cursor.PeekWord(&word, 2));
  EXPECT_FALSE(cursor.PeekWord(&word, SIZE_MAX));
}

TEST(ByteCursorTest, ConsumePrefixOnlyOnAFullMatch) {
  const std::vector<uint8_t> bytes = {'"', 'a', '"', ':'};
  ByteCursor cursor(bytes);
  EXPECT_FALSE(cursor.ConsumePrefix("\"b"));
  EXPECT_FALSE(cursor.ConsumePrefix("\"a\":1"));  // longer than what is left
  EXPECT_EQ(cursor.position(), 0u);
  EXPECT_TRUE(cursor.ConsumePrefix("\"a\""));
  EXPECT_EQ(cursor.position(), 3u);
  EXPECT_TRUE(cursor.ConsumePrefix(""));
}

TEST(ByteCursorTest, ReadsLittleEndian) {
  const std::vector<uint8_t> bytes = {1, 2, 3, 4, 5, 6, 7, 0x80};
  uint64_t value = 0;
  ASSERT_TRUE(ReadLittleEndian64(bytes, &value));
  EXPECT_EQ(value, 0x8007060504030201ULL);
  EXPECT_FALSE(ReadLittleEndian64(absl::MakeSpan(bytes).first(7), &value));
}

TEST(ByteCursorTest, TakesLittleEndianNumbersOfEveryWidth) {
  const uint8_t bytes[] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09};
  ByteCursor cursor(bytes);
  uint64_t value = 0;
  ASSERT_TRUE(cursor.TakeLittleEndian(2, &value));
  EXPECT_EQ(value, 0x0201u);
  ASSERT_TRUE(cursor.TakeLittleEndian(4, &value));
  EXPECT_EQ(value, 0x06050403u);
  ASSERT_TRUE(cursor.TakeLittleEndian(0, &value));
  EXPECT_EQ(value, 0u);
  EXPECT_EQ(cursor.position(), 6u);

  ByteCursor whole(bytes);
  ASSERT_TRUE(whole.TakeLittleEndian(8, &value));
  EXPECT_EQ(value, 0x0807060504030201u);
}

TEST(ByteCursorTest, TakeLittleEndianRefusesShortInputAndWideNumbers) {
  const uint8_t bytes[] = {0xff, 0xee, 0xdd};
  ByteCursor cursor(bytes);
  uint64_t value = 42;
  EXPECT_FALSE(cursor.TakeLittleEndian(4, &value));
  EXPECT_FALSE(cursor.TakeLittleEndian(9, &value));
  EXPECT_EQ(value, 42u);
  EXPECT_EQ(cursor.position(), 0u);
  ASSERT_TRUE(cursor.TakeLittleEndian(3, &value));
  EXPECT_EQ(value, 0xddeeffu);
  EXPECT_TRUE(cursor.AtEnd());
}

}  // namespace
}  // namespace safetensors

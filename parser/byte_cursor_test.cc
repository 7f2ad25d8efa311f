#include "parser/byte_cursor.h"

#include <cstdint>
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

}  // namespace
}  // namespace safetensors

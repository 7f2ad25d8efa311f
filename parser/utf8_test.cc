#include "parser/utf8.h"

#include <cstdint>
#include <string>

#include "gtest/gtest.h"

namespace safetensors {
namespace {

std::optional<size_t> Find(const std::string& s) {
  return FindInvalidUtf8(absl::Span<const uint8_t>(
      reinterpret_cast<const uint8_t*>(s.data()), s.size()));
}

TEST(Utf8Test, AcceptsEveryValidLength) {
  EXPECT_EQ(Find(""), std::nullopt);
  EXPECT_EQ(Find("plain ascii, long enough for the word-at-a-time path"), std::nullopt);
  EXPECT_EQ(Find("\xC2\x80 \xDF\xBF"), std::nullopt);              // U+0080, U+07FF
  EXPECT_EQ(Find("\xE0\xA0\x80 \xED\x9F\xBF \xEE\x80\x80"), std::nullopt);  // around surrogates
  EXPECT_EQ(Find("\xF0\x90\x80\x80 \xF4\x8F\xBF\xBF"), std::nullopt);  // U+10000, U+10FFFF
  EXPECT_EQ(Find(std::string("\0", 1)), std::nullopt);
}

TEST(Utf8Test, RejectsAtTheOffendingByte) {
  EXPECT_EQ(Find("ab\x80"), 2u);                  // lone continuation
  EXPECT_EQ(Find("abcdefgh\xC0\xAF"), 8u);        // overlong '/'
  EXPECT_EQ(Find("\xC1\xBF"), 0u);                // overlong
  EXPECT_EQ(Find("\xE0\x9F\xBF"), 0u);            // overlong 3-byte
  EXPECT_EQ(Find("\xF0\x8F\xBF\xBF"), 0u);        // overlong 4-byte
  EXPECT_EQ(Find("x\xED\xA0\x80"), 1u);           // surrogate U+D800
  EXPECT_EQ(Find("\xED\xBF\xBF"), 0u);            // surrogate U+DFFF
  EXPECT_EQ(Find("\xF4\x90\x80\x80"), 0u);        // above U+10FFFF
  EXPECT_EQ(Find("\xF5\x80\x80\x80"), 0u);
  EXPECT_EQ(Find("\xFF"), 0u);
  EXPECT_EQ(Find("ok\xE2\x82"), 2u);              // truncated at the end
  EXPECT_EQ(Find("\xE2\x82x"), 0u);               // bad continuation
  EXPECT_EQ(Find("\xF0\x9F\x98"), 0u);
}

TEST(TerminalControlAtTest, FindsWhatATerminalWouldObey) {
  uint32_t cp = 0;
  EXPECT_EQ(TerminalControlAt("\x1b[", 0, &cp), 1u);
  EXPECT_EQ(cp, 0x1bu);
  EXPECT_EQ(TerminalControlAt("\x7f", 0, &cp), 1u);
  EXPECT_EQ(TerminalControlAt("a\xC2\x9B", 1, &cp), 2u);  // U+009B, CSI
  EXPECT_EQ(cp, 0x9bu);
  EXPECT_EQ(TerminalControlAt("\xE2\x80\xAE", 0, &cp), 3u);  // U+202E
  EXPECT_EQ(cp, 0x202eu);
  EXPECT_EQ(TerminalControlAt("\xE2\x81\xA6", 0, &cp), 3u);  // U+2066
  EXPECT_EQ(TerminalControlAt("\xE2\x80\xA8", 0, &cp), 3u);  // U+2028
  // Printable: ASCII, é (C3 A9), U+00A0 (C2 A0), € (E2 82 AC), U+2027, U+206A.
  for (const char* text : {"a", "\xC3\xA9", "\xC2\xA0", "\xE2\x82\xAC", "\xE2\x80\xA7",
                           "\xE2\x81\xAA"}) {
    EXPECT_EQ(TerminalControlAt(text, 0, &cp), 0u) << text;
  }
  // Truncated sequences and positions past the end.
  EXPECT_EQ(TerminalControlAt("\xE2\x80", 0, &cp), 0u);
  EXPECT_EQ(TerminalControlAt("\xC2", 0, &cp), 0u);
  EXPECT_EQ(TerminalControlAt("ab", 2, &cp), 0u);
}

}  // namespace
}  // namespace safetensors

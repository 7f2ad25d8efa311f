#include "parser/json_string.h"

#include <string>

#include "gtest/gtest.h"

namespace safetensors {
namespace {

TEST(JsonStringTest, EscapesAsSerdeJson) {
  EXPECT_EQ(JsonString("w"), "\"w\"");
  EXPECT_EQ(JsonString("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(JsonString("\b\f\n\r\t"), "\"\\b\\f\\n\\r\\t\"");
  EXPECT_EQ(JsonString(std::string("\x00\x1b", 2)), "\"\\u0000\\u001b\"");
  // DEL, C1 and bidi controls stay raw: serde writes them so, and headers
  // must be byte-identical to the reference's.
  EXPECT_EQ(JsonString("\x7f\xC2\x9B\xE2\x80\xAE"), "\"\x7f\xC2\x9B\xE2\x80\xAE\"");
}

TEST(JsonStringTest, ForTerminalAlsoEscapesWhatATerminalObeys) {
  EXPECT_EQ(JsonStringForTerminal("fc1.weight"), "\"fc1.weight\"");
  EXPECT_EQ(JsonStringForTerminal("\x1b[2J\r"), "\"\\u001b[2J\\r\"");
  EXPECT_EQ(JsonStringForTerminal("a\x7f" "b\xC2\x9B" "c\xE2\x80\xAE" "d\xC3\xA9"),
            "\"a\\u007fb\\u009bc\\u202ed\xC3\xA9\"");
  EXPECT_EQ(JsonStringForTerminal(""), "\"\"");
  EXPECT_EQ(JsonStringForTerminal("\xE2\x81\xA9\""), "\"\\u2069\\\"\"");
}

}  // namespace
}  // namespace safetensors

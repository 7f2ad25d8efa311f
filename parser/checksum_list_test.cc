#include "parser/checksum_list.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace safetensors {
namespace {

using ::testing::ElementsAre;

const std::string kA(64, 'a');
const std::string kB = std::string(63, 'B') + "0";

TEST(ChecksumListTest, ReadsEveryFormSha256sumWrites) {
  const std::string text = kA + "  model.safetensors\n" +      // text mode
                           kB + " *weights/with space.bin\n" +  // binary mode
                           "\\" + kA + "  new\\nline\\\\back\n" +  // escaped name
                           "SHA256 (tagged (1).json) = " + kA + "\n";
  const ChecksumList list = ParseSha256Sums(text);
  ASSERT_EQ(list.entries.size(), 4u);
  EXPECT_EQ(list.entries[0].name, "model.safetensors");
  EXPECT_EQ(list.entries[0].sha256_hex, kA);
  EXPECT_EQ(list.entries[1].name, "weights/with space.bin");
  EXPECT_EQ(list.entries[1].sha256_hex, std::string(63, 'b') + "0");  // lower-cased
  EXPECT_EQ(list.entries[2].name, "new\nline\\back");
  EXPECT_EQ(list.entries[3].name, "tagged (1).json");
  EXPECT_EQ(list.entries[3].line, 4u);
  EXPECT_TRUE(list.malformed_lines.empty());
}

TEST(ChecksumListTest, CountsImproperLinesAndKeepsTheRest) {
  const std::string text = std::string("\n") +              // 1: blank
                           kA.substr(1) + "  short\n" +     // 2: 63 digits
                           kA + " x\n" +                    // 3: one space, no mode
                           kA + "  \n" +                    // 4: no name
                           std::string(63, 'a') + "g  bad\n" +  // 5: not hex
                           "\\" + kA + "  bad\\tescape\n" +     // 6: unknown escape
                           "SHA256 (x) " + kA + "\n" +          // 7: no " = "
                           kA + "  ok\n";                       // 8
  const ChecksumList list = ParseSha256Sums(text);
  ASSERT_EQ(list.entries.size(), 1u);
  EXPECT_EQ(list.entries[0].name, "ok");
  EXPECT_EQ(list.entries[0].line, 8u);
  EXPECT_THAT(list.malformed_lines, ElementsAre(1, 2, 3, 4, 5, 6, 7));
}

// A list with CRLF line ends reads as sha256sum -c reads it: the carriage
// return is no part of the name.
TEST(ChecksumListTest, CrlfLineEnds) {
  const ChecksumList list = ParseSha256Sums(kA + "  a.bin\r\n" + kA + " *b.bin\r\n");
  ASSERT_EQ(list.entries.size(), 2u);
  EXPECT_EQ(list.entries[0].name, "a.bin");
  EXPECT_EQ(list.entries[1].name, "b.bin");
}

TEST(ChecksumListTest, EmptyAndUnterminated) {
  EXPECT_TRUE(ParseSha256Sums("").entries.empty());
  EXPECT_TRUE(ParseSha256Sums("").malformed_lines.empty());
  // One blank line is a line (the fuzzer's first finding).
  EXPECT_THAT(ParseSha256Sums("\n").malformed_lines, ElementsAre(1));
  EXPECT_THAT(ParseSha256Sums("\n\n").malformed_lines, ElementsAre(1, 2));
  const ChecksumList last = ParseSha256Sums(kA + "  no-newline");
  ASSERT_EQ(last.entries.size(), 1u);
  EXPECT_EQ(last.entries[0].name, "no-newline");
  // A name may hold a NUL in no file system: refused.
  EXPECT_EQ(ParseSha256Sums(kA + "  a" + std::string(1, '\0') + "b\n").entries.size(), 0u);
}

}  // namespace
}  // namespace safetensors

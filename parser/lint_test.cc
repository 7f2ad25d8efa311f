#include "parser/lint.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "parser/header.h"
#include "parser/status_matchers.h"

namespace safetensors {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// A file: the length prefix, `json` padded with spaces to `pad_to` bytes
// (0: unpadded), then `data_size` zero bytes.
std::string File(const std::string& json, size_t data_size, size_t pad_to = 8) {
  std::string header = json;
  if (pad_to != 0) header.append((pad_to - (8 + header.size()) % pad_to) % pad_to, ' ');
  std::string file(8, '\0');
  for (size_t i = 0; i < 8; ++i) file[i] = static_cast<char>((header.size() >> (8 * i)) & 0xFF);
  return file + header + std::string(data_size, '\0');
}

TEST(HygieneWarningsTest, CanonicalFileHasNone) {
  ASSERT_OK_AND_ASSIGN(
      Header header,
      ParseHeader(File(R"({"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                       R"("a":{"dtype":"U8","shape":[2],"data_offsets":[4,6]}})",
                       6)));
  EXPECT_THAT(HygieneWarnings(header), IsEmpty());
}

TEST(HygieneWarningsTest, UnpaddedHeaderAndMisalignedData) {
  // 51 header bytes: the data starts at byte 59, so the F32 is misaligned.
  const std::string json = R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})";
  ASSERT_OK_AND_ASSIGN(Header header, ParseHeader(File(json, 4, /*pad_to=*/0)));
  const uint64_t start = 8 + json.size();
  EXPECT_THAT(HygieneWarnings(header),
              ElementsAre(absl::StrCat("header is not padded to a multiple of 8 bytes: the "
                                       "data buffer starts at byte ",
                                       start),
                          absl::StrCat("tensor \"w\" (F32) starts at byte ", start,
                                       ", not a multiple of 4")));
}

TEST(HygieneWarningsTest, NonCanonicalOrderNamesTheFirstMisplacedTensor) {
  ASSERT_OK_AND_ASSIGN(
      Header header,
      ParseHeader(File(R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},)"
                       R"("b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                       8)));
  EXPECT_THAT(HygieneWarnings(header),
              ElementsAre(HasSubstr("\"a\" is at position 0 instead of \"b\"")));
}

TEST(HygieneWarningsTest, UnknownFieldsAreListedUpToTenThenCounted) {
  std::string json = R"({"w":{"dtype":"U8","shape":[0],"data_offsets":[0,0])";
  for (int i = 0; i < 12; ++i) absl::StrAppend(&json, ",\"f", i, "\":1");
  json += "}}";
  ASSERT_OK_AND_ASSIGN(Header header, ParseHeader(File(json, 0)));
  const std::vector<std::string> warnings = HygieneWarnings(header);
  ASSERT_EQ(warnings.size(), 11u);
  EXPECT_EQ(warnings[0], "tensor \"w\" has unknown field \"f0\"");
  EXPECT_EQ(warnings[10], "... and 2 more unknown fields");
}

TEST(HygieneWarningsTest, FileControlledTextIsEscaped) {
  ASSERT_OK_AND_ASSIGN(
      Header header,
      ParseHeader(File(R"({"\u001b[2J":{"dtype":"U8","shape":[0],"data_offsets":[0,0],)"
                       R"("\r":null}})",
                       0)));
  EXPECT_THAT(HygieneWarnings(header),
              ElementsAre("tensor \"\\x1b[2J\" has unknown field \"\\x0d\""));
}

}  // namespace
}  // namespace safetensors

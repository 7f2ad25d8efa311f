#include "parser/json_reader.h"

#include <cstdint>
#include <random>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "parser/error.h"
#include "parser/status_macros.h"
#include "parser/status_matchers.h"

namespace safetensors {
namespace internal {
namespace {

using ::safetensors::testing::HasErrorCode;

// Reads one unsigned integer followed by anything, as shapes and offsets do.
class U64Reader : public JsonReader {
 public:
  U64Reader(absl::string_view text, DuplicateKeys& duplicates)
      : JsonReader("test", AsBytes(text), 0, duplicates) {}
  absl::StatusOr<std::pair<uint64_t, size_t>> Read() {
    uint64_t value = 0;
    SAFETENSORS_RETURN_IF_ERROR(ReadU64([] { return std::string("value"); }, &value));
    return std::make_pair(value, cursor_.position());
  }

 private:
  static absl::Span<const uint8_t> AsBytes(absl::string_view text) {
    return absl::Span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size());
  }
};

absl::StatusOr<std::pair<uint64_t, size_t>> ReadU64Of(const std::string& text) {
  DuplicateKeys duplicates;
  return U64Reader(text, duplicates).Read();
}

// Every length from 1 to 20 digits, at every position of the 8-byte reads,
// followed by each kind of terminator, against std::to_string's digits.
TEST(ReadU64Test, AgreesWithDecimalTextForEveryLengthAndAlignment) {
  std::mt19937_64 random(1126);
  for (int length = 1; length <= 20; ++length) {
    for (int trial = 0; trial < 40; ++trial) {
      uint64_t value = random();
      std::string digits = std::to_string(value);
      if (static_cast<int>(digits.size()) > length) digits = digits.substr(0, static_cast<size_t>(length));
      if (digits.size() > 1 && digits[0] == '0') digits[0] = '1';
      if (digits.size() == 20 && digits > "18446744073709551615") digits[0] = '1';
      const uint64_t expected = std::stoull(digits);
      for (const char* tail : {"", ",", "]", " ,1", "}xxxxxxxxxxxx"}) {
        SCOPED_TRACE(digits + tail);
        ASSERT_OK_AND_ASSIGN(auto read, ReadU64Of(digits + tail));
        EXPECT_EQ(read.first, expected);
        EXPECT_EQ(read.second, digits.size());
      }
    }
  }
}

TEST(ReadU64Test, Boundaries) {
  EXPECT_THAT(ReadU64Of("0"), safetensors::testing::IsOkAndHolds(std::make_pair(uint64_t{0}, size_t{1})));
  ASSERT_OK_AND_ASSIGN(auto max, ReadU64Of("18446744073709551615]"));
  EXPECT_EQ(max.first, UINT64_MAX);
  ASSERT_OK_AND_ASSIGN(auto nines, ReadU64Of("9999999999999999999,"));  // 19 digits
  EXPECT_EQ(nines.first, 9999999999999999999ULL);
  EXPECT_THAT(ReadU64Of("18446744073709551616"), HasErrorCode(ErrorCode::kInvalidSchema));
  EXPECT_THAT(ReadU64Of("99999999999999999999"), HasErrorCode(ErrorCode::kInvalidSchema));
  EXPECT_THAT(ReadU64Of("123456789012345678901"), HasErrorCode(ErrorCode::kInvalidSchema));
  EXPECT_THAT(ReadU64Of("-1"), HasErrorCode(ErrorCode::kInvalidSchema));
  EXPECT_THAT(ReadU64Of("1.0"), HasErrorCode(ErrorCode::kInvalidSchema));
  EXPECT_THAT(ReadU64Of("12345678.5"), HasErrorCode(ErrorCode::kInvalidSchema));
  EXPECT_THAT(ReadU64Of("1e3"), HasErrorCode(ErrorCode::kInvalidSchema));
  EXPECT_THAT(ReadU64Of("01"), HasErrorCode(ErrorCode::kInvalidJson));
  EXPECT_THAT(ReadU64Of("00000000012"), HasErrorCode(ErrorCode::kInvalidJson));
  EXPECT_THAT(ReadU64Of("\"1\""), HasErrorCode(ErrorCode::kInvalidSchema));
  EXPECT_THAT(ReadU64Of("x"), HasErrorCode(ErrorCode::kInvalidJson));
  // Bytes around the digit range ('/' is '0' - 1, ':' is '9' + 1) end a number.
  ASSERT_OK_AND_ASSIGN(auto slash, ReadU64Of("1234/5678"));
  EXPECT_EQ(slash.first, 1234u);
  ASSERT_OK_AND_ASSIGN(auto colon, ReadU64Of("12345678:"));
  EXPECT_EQ(colon.first, 12345678u);
  ASSERT_OK_AND_ASSIGN(auto high, ReadU64Of("7\xb9"));
  EXPECT_EQ(high.first, 7u);
}

}  // namespace
}  // namespace internal
}  // namespace safetensors

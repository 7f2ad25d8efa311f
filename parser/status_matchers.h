// gMock matchers for absl::Status and absl::StatusOr, which Debian's Abseil
// does not ship, plus one for this project's ErrorCode payload.
//
//   EXPECT_THAT(ParseHeader(bytes), IsOk());
//   EXPECT_THAT(ParseHeader(bytes), HasErrorCode(ErrorCode::kInvalidOffset));
//   EXPECT_THAT(status, StatusIs(absl::StatusCode::kNotFound));
//   ASSERT_OK_AND_ASSIGN(Header header, ParseHeader(bytes));
#ifndef SAFETENSORS_PARSER_STATUS_MATCHERS_H_
#define SAFETENSORS_PARSER_STATUS_MATCHERS_H_

#include <optional>
#include <ostream>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "parser/error.h"

namespace safetensors {
namespace testing {

inline const absl::Status& GetStatus(const absl::Status& status) { return status; }
template <typename T>
const absl::Status& GetStatus(const absl::StatusOr<T>& status_or) {
  return status_or.status();
}

MATCHER(IsOk, "is OK") {
  const absl::Status& status = GetStatus(arg);
  if (!status.ok()) *result_listener << "status is " << status;
  return status.ok();
}

MATCHER_P(StatusIs, code,
          "has status code " + ::testing::PrintToString(absl::StatusCodeToString(code))) {
  const absl::Status& status = GetStatus(arg);
  *result_listener << "status is " << status;
  return status.code() == code;
}

MATCHER_P(HasErrorCode, error_code,
          "fails with ErrorCode " + std::string(ErrorCodeName(error_code))) {
  const absl::Status& status = GetStatus(arg);
  *result_listener << "status is " << status;
  std::optional<ErrorCode> actual = GetErrorCode(status);
  return !status.ok() && actual.has_value() && *actual == error_code;
}

// An absl::StatusOr that is OK and holds a value equal to `expected`.
MATCHER_P(IsOkAndHolds, expected, "is OK and holds " + ::testing::PrintToString(expected)) {
  if (!arg.ok()) {
    *result_listener << "status is " << arg.status();
    return false;
  }
  *result_listener << "holds " << ::testing::PrintToString(*arg);
  return *arg == expected;
}

}  // namespace testing
}  // namespace safetensors

#define SAFETENSORS_MATCHERS_CONCAT_INNER_(a, b) a##b
#define SAFETENSORS_MATCHERS_CONCAT_(a, b) SAFETENSORS_MATCHERS_CONCAT_INNER_(a, b)

// Asserts that `expr` (an absl::StatusOr) is OK and moves its value into `lhs`.
#define ASSERT_OK_AND_ASSIGN(lhs, expr)                                        \
  ASSERT_OK_AND_ASSIGN_IMPL_(                                                  \
      SAFETENSORS_MATCHERS_CONCAT_(status_or_value_, __LINE__), lhs, expr)
#define ASSERT_OK_AND_ASSIGN_IMPL_(status_or, lhs, expr)           \
  auto status_or = (expr);                                         \
  ASSERT_TRUE(status_or.ok()) << status_or.status();               \
  lhs = std::move(status_or).value()

#define ASSERT_OK(expr) ASSERT_THAT(expr, ::safetensors::testing::IsOk())
#define EXPECT_OK(expr) EXPECT_THAT(expr, ::safetensors::testing::IsOk())

#endif  // SAFETENSORS_PARSER_STATUS_MATCHERS_H_

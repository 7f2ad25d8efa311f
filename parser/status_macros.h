// Early-return helpers for absl::Status, which Debian's Abseil (20220623) does
// not ship: the project's one idiom for passing an error up, in every layer.
// (A rule that rejects input is written where it is checked, as
// `if (ABSL_PREDICT_FALSE(broken)) return MakeError(...)`; these macros only
// propagate a status some other call returned.)
//
//   SAFETENSORS_RETURN_IF_ERROR(WriteAll(fd, bytes));
//   SAFETENSORS_ASSIGN_OR_RETURN(Header header, ParseHeader(prefix, size, {}));
#ifndef SAFETENSORS_PARSER_STATUS_MACROS_H_
#define SAFETENSORS_PARSER_STATUS_MACROS_H_

#include <utility>

#include "absl/base/optimization.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define SAFETENSORS_RETURN_IF_ERROR(expr)                     \
  do {                                                        \
    ::absl::Status safetensors_status_ = (expr);              \
    if (ABSL_PREDICT_FALSE(!safetensors_status_.ok())) {      \
      return safetensors_status_;                             \
    }                                                         \
  } while (false)

#define SAFETENSORS_STATUS_CONCAT_INNER_(a, b) a##b
#define SAFETENSORS_STATUS_CONCAT_(a, b) SAFETENSORS_STATUS_CONCAT_INNER_(a, b)

#define SAFETENSORS_ASSIGN_OR_RETURN(lhs, expr)                         \
  SAFETENSORS_ASSIGN_OR_RETURN_IMPL_(                                   \
      SAFETENSORS_STATUS_CONCAT_(safetensors_statusor_, __LINE__), lhs, expr)

#define SAFETENSORS_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr) \
  auto statusor = (expr);                                       \
  if (ABSL_PREDICT_FALSE(!statusor.ok())) {                     \
    return std::move(statusor).status();                        \
  }                                                             \
  lhs = *std::move(statusor)

#endif  // SAFETENSORS_PARSER_STATUS_MACROS_H_

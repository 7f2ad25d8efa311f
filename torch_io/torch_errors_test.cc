#include "torch_io/torch_errors.h"

#include <new>
#include <stdexcept>

#include <c10/util/Exception.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "parser/status_matchers.h"

namespace safetensors {
namespace {

using ::safetensors::testing::HasErrorCode;
using ::testing::HasSubstr;

// Whatever a LibTorch call throws becomes a status with an ErrorCode.
TEST(CallTorchTest, EveryExceptionBecomesAStatusWithACode) {
  absl::StatusOr<int> ok = CallTorch("adding", [] { return 1 + 1; });
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(*ok, 2);

  absl::StatusOr<int> torch_error =
      CallTorch("resizing", []() -> int { TORCH_CHECK(false, "bad size"); });
  EXPECT_THAT(torch_error, HasErrorCode(ErrorCode::kBadArgument));
  EXPECT_THAT(torch_error.status().message(), HasSubstr("LibTorch failed resizing: bad size"));

  absl::StatusOr<int> oom = CallTorch("allocating", []() -> int { throw std::bad_alloc(); });
  EXPECT_THAT(oom, HasErrorCode(ErrorCode::kOutOfMemory));
  EXPECT_EQ(oom.status().code(), absl::StatusCode::kResourceExhausted);

  absl::StatusOr<int> other =
      CallTorch("thinking", []() -> int { throw std::runtime_error("surprise"); });
  EXPECT_THAT(other, HasErrorCode(ErrorCode::kInternal));
  EXPECT_THAT(other.status().message(), HasSubstr("surprise"));

  absl::StatusOr<int> odd = CallTorch("throwing an int", []() -> int { throw 7; });
  EXPECT_THAT(odd, HasErrorCode(ErrorCode::kInternal));
}

}  // namespace
}  // namespace safetensors

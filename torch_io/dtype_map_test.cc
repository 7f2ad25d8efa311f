#include "torch_io/dtype_map.h"

#include <cstdint>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "parser/error.h"
#include "parser/status_matchers.h"

namespace safetensors {
namespace {

using ::safetensors::testing::HasErrorCode;
using ::testing::ElementsAre;

TEST(DtypeMapTest, EveryDtypeThisLibTorchHasRoundTrips) {
  int mapped = 0;
  for (Dtype dtype : AllDtypes()) {
    absl::StatusOr<c10::ScalarType> type = ToScalarType(dtype, "t");
    if (!type.ok()) {
      EXPECT_THAT(type, HasErrorCode(ErrorCode::kUnsupportedDtype));
      EXPECT_THAT(type.status().message(), ::testing::HasSubstr(std::string(DtypeName(dtype))));
      continue;
    }
    ++mapped;
    ASSERT_OK_AND_ASSIGN(Dtype back, FromScalarType(*type, "t"));
    EXPECT_EQ(back, dtype);
    // Whole-byte dtypes: LibTorch's element is the safetensors element.
    if (DtypeBits(dtype) >= 8) {
      EXPECT_EQ(c10::elementSize(*type) * 8, DtypeBits(dtype));
    }
  }
  // What the linked LibTorch has: 11 dtypes in every version, then each
  // family from the version that added it; no LibTorch has F6.
  const int expected = 11 + 3 * SAFETENSORS_HAS_UNSIGNED + 2 * SAFETENSORS_HAS_FLOAT8 +
                       2 * SAFETENSORS_HAS_FLOAT8_FNUZ + SAFETENSORS_HAS_FLOAT8_E8M0 +
                       SAFETENSORS_HAS_FLOAT4;
  EXPECT_EQ(mapped, expected) << "LibTorch " << TORCH_VERSION_MAJOR << "." << TORCH_VERSION_MINOR;
  EXPECT_THAT(ToScalarType(Dtype::kF6_E2M3, "x"), HasErrorCode(ErrorCode::kUnsupportedDtype));
  EXPECT_THAT(FromScalarType(c10::ScalarType::ComplexDouble, "x"),
              HasErrorCode(ErrorCode::kUnsupportedDtype));
  EXPECT_THAT(FromScalarType(c10::ScalarType::QInt8, "x"),
              HasErrorCode(ErrorCode::kUnsupportedDtype));
}

TEST(DtypeMapTest, F4PacksTwoValuesPerTorchElement) {
  const uint64_t shape[] = {2, 6};
  ASSERT_OK_AND_ASSIGN(std::vector<int64_t> sizes, ToTorchSizes(Dtype::kF4, shape, "f"));
  EXPECT_THAT(sizes, ElementsAre(2, 3));
  ASSERT_OK_AND_ASSIGN(std::vector<uint64_t> file_shape, ToFileShape(Dtype::kF4, sizes, "f"));
  EXPECT_THAT(file_shape, ElementsAre(2, 6));
  EXPECT_THAT(ToFileShape(Dtype::kF4, {}, "f"), HasErrorCode(ErrorCode::kInvalidTensor));
  const uint64_t odd[] = {2, 3};
  EXPECT_THAT(ToTorchSizes(Dtype::kF4, odd, "f"), HasErrorCode(ErrorCode::kInvalidTensor));
  EXPECT_THAT(ToTorchSizes(Dtype::kF4, {}, "f"), HasErrorCode(ErrorCode::kInvalidTensor));
  ASSERT_OK_AND_ASSIGN(std::vector<uint64_t> f32_shape, ToFileShape(Dtype::kF32, sizes, "f"));
  EXPECT_THAT(f32_shape, ElementsAre(2, 3));
}

TEST(DtypeMapTest, DimensionsBeyondInt64AreRefused) {
  const uint64_t huge[] = {0, uint64_t{1} << 63};
  EXPECT_THAT(ToTorchSizes(Dtype::kU8, huge, "h"), HasErrorCode(ErrorCode::kInvalidTensor));
  const uint64_t largest[] = {0, (uint64_t{1} << 63) - 1};
  EXPECT_OK(ToTorchSizes(Dtype::kU8, largest, "h"));
}

}  // namespace
}  // namespace safetensors

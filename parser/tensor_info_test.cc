#include "parser/tensor_info.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "parser/error.h"
#include "parser/status_matchers.h"

namespace safetensors {
namespace {

using ::safetensors::testing::HasErrorCode;
using ::safetensors::testing::IsOkAndHolds;
using ::testing::HasSubstr;

constexpr uint64_t k2To32 = uint64_t{1} << 32;
constexpr uint64_t k2To40 = uint64_t{1} << 40;

TEST(TensorByteSizeTest, WholeBytesOfEveryDtype) {
  EXPECT_THAT(TensorByteSize("w", Dtype::kF32, {2, 3}), IsOkAndHolds(uint64_t{24}));
  EXPECT_THAT(TensorByteSize("w", Dtype::kF32, {}), IsOkAndHolds(uint64_t{4}));
  EXPECT_THAT(TensorByteSize("w", Dtype::kF4, {3, 2}), IsOkAndHolds(uint64_t{3}));
  EXPECT_THAT(TensorByteSize("w", Dtype::kF6_E2M3, {4}), IsOkAndHolds(uint64_t{3}));
  EXPECT_THAT(TensorByteSize("w", Dtype::kI64, {0, 7}), IsOkAndHolds(uint64_t{0}));
}

TEST(TensorByteSizeTest, SubByteRemainderIsMisaligned) {
  EXPECT_THAT(TensorByteSize("w", Dtype::kF4, {3}), HasErrorCode(ErrorCode::kMisalignedSlice));
  EXPECT_THAT(ReferenceByteSize("w", Dtype::kF6_E3M2, {2}),
              HasErrorCode(ErrorCode::kMisalignedSlice));
}

TEST(TensorByteSizeTest, ReferenceFoldsLeftToRight) {
  // [2^40, 2^40, 0] overflows before the zero is reached, as in the reference.
  EXPECT_THAT(ReferenceByteSize("w", Dtype::kU8, {k2To40, k2To40, 0}),
              HasErrorCode(ErrorCode::kValidationOverflow));
  // The same dimensions with the zero first: 0 elements for the reference...
  EXPECT_THAT(ReferenceByteSize("w", Dtype::kU8, {0, k2To40, k2To40}), IsOkAndHolds(uint64_t{0}));
  // ...but not for our order-independent rule.
  absl::Status strict = CheckSizeIgnoringZeroDims("w", Dtype::kU8, {0, k2To40, k2To40});
  EXPECT_THAT(strict, HasErrorCode(ErrorCode::kValidationOverflow));
  EXPECT_THAT(strict.message(), HasSubstr("zero dimensions are ignored"));
  EXPECT_THAT(TensorByteSize("w", Dtype::kU8, {0, k2To40, k2To40}),
              HasErrorCode(ErrorCode::kValidationOverflow));
}

TEST(TensorByteSizeTest, BitCountOverflowAndTheLargestThatFits) {
  // 2^64 - 1 elements fit; times 8 bits do not.
  EXPECT_THAT(ReferenceByteSize("w", Dtype::kU8, {k2To32 - 1, k2To32 + 1}),
              HasErrorCode(ErrorCode::kValidationOverflow));
  // 2^61 - 1 bytes is the largest U8 tensor whose bit count fits.
  const uint64_t largest = (uint64_t{1} << 61) - 1;
  EXPECT_THAT(TensorByteSize("w", Dtype::kU8, {largest}), IsOkAndHolds(largest));
  EXPECT_THAT(TensorByteSize("w", Dtype::kU8, {0, largest}), IsOkAndHolds(uint64_t{0}));
  EXPECT_THAT(TensorByteSize("w", Dtype::kU8, {largest + 1}),
              HasErrorCode(ErrorCode::kValidationOverflow));
}

TEST(TensorByteSizeTest, MessageNamesTheTensorAndShape) {
  absl::StatusOr<uint64_t> r = TensorByteSize("layer\n1", Dtype::kU8, {k2To40, k2To40, 1});
  EXPECT_THAT(r.status().message(), HasSubstr("tensor \"layer\\x0a1\""));
  EXPECT_THAT(r.status().message(), HasSubstr("[1099511627776, 1099511627776, 1]"));
}

TEST(ShapeForMessageTest, CutsLongShapes) {
  EXPECT_EQ(ShapeForMessage({}), "[]");
  EXPECT_EQ(ShapeForMessage({2, 3}), "[2, 3]");
  EXPECT_EQ(ShapeForMessage(std::vector<uint64_t>(100, 1)),
            "[1, 1, 1, 1, 1, 1, 1, 1, ... (100 dimensions)]");
}

TEST(CanonicalOrderTest, DescendingAlignmentThenName) {
  struct Entry {
    Dtype dtype;
    std::string name;
  };
  std::vector<Entry> entries = {{Dtype::kU8, "a"},  {Dtype::kF32, "z"}, {Dtype::kF32, "b"},
                                {Dtype::kI64, "m"}, {Dtype::kBool, "c"}, {Dtype::kF4, "a"}};
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return CanonicalOrderLess(a.dtype, a.name, b.dtype, b.name);
  });
  std::vector<std::string> order;
  for (const Entry& e : entries) order.push_back(std::string(DtypeName(e.dtype)) + ":" + e.name);
  EXPECT_THAT(order, ::testing::ElementsAre("I64:m", "F32:b", "F32:z", "U8:a", "F4:a", "BOOL:c"));
  // Names compare bytewise: "B" (0x42) before "a" (0x61), UTF-8 after ASCII.
  EXPECT_TRUE(CanonicalOrderLess(Dtype::kF32, "B", Dtype::kF32, "a"));
  EXPECT_TRUE(CanonicalOrderLess(Dtype::kF32, "z", Dtype::kF32, "\xC3\xA9"));
  EXPECT_FALSE(CanonicalOrderLess(Dtype::kF32, "a", Dtype::kF32, "a"));
}

}  // namespace
}  // namespace safetensors

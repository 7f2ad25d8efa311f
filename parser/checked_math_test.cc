#include "parser/checked_math.h"

#include <cstdint>

#include "gtest/gtest.h"

namespace safetensors {
namespace {

constexpr uint64_t kMax = UINT64_MAX;

TEST(CheckedMathTest, AddAtTheBoundary) {
  uint64_t r = 0;
  EXPECT_TRUE(CheckedAdd(kMax - 1, 1, &r));
  EXPECT_EQ(r, kMax);
  EXPECT_FALSE(CheckedAdd(kMax, 1, &r));
  EXPECT_FALSE(CheckedAdd(kMax / 2 + 1, kMax / 2 + 1, &r));
  EXPECT_TRUE(CheckedAdd(0, kMax, &r));
}

TEST(CheckedMathTest, MulAtTheBoundary) {
  uint64_t r = 0;
  EXPECT_TRUE(CheckedMul(4294967295ULL, 4294967297ULL, &r));  // 2^64 - 1
  EXPECT_EQ(r, kMax);
  EXPECT_FALSE(CheckedMul(4294967296ULL, 4294967296ULL, &r));  // 2^64
  EXPECT_FALSE(CheckedMul(kMax, 2, &r));
  EXPECT_TRUE(CheckedMul(kMax, 0, &r));
  EXPECT_EQ(r, 0u);
  EXPECT_TRUE(CheckedMul(kMax, 1, &r));
  EXPECT_EQ(r, kMax);
}

}  // namespace
}  // namespace safetensors

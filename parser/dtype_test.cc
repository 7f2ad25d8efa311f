#include "parser/dtype.h"

#include <set>
#include <string>

#include "gtest/gtest.h"

namespace safetensors {
namespace {

TEST(DtypeTest, AllTwentyTwoWithTheirBitSizes) {
  EXPECT_EQ(AllDtypes().size(), 22u);
  const std::pair<const char*, uint64_t> expected[] = {
      {"BOOL", 8},   {"U8", 8},      {"I8", 8},      {"F8_E5M2", 8},
      {"F8_E4M3", 8}, {"F8_E8M0", 8}, {"F8_E4M3FNUZ", 8}, {"F8_E5M2FNUZ", 8},
      {"I16", 16},   {"U16", 16},    {"F16", 16},    {"BF16", 16},
      {"I32", 32},   {"U32", 32},    {"F32", 32},    {"C64", 64},
      {"F64", 64},   {"I64", 64},    {"U64", 64},    {"F4", 4},
      {"F6_E2M3", 6}, {"F6_E3M2", 6}};
  std::set<Dtype> seen;
  for (const auto& [name, bits] : expected) {
    std::optional<Dtype> dtype = ParseDtype(name);
    ASSERT_TRUE(dtype.has_value()) << name;
    EXPECT_EQ(DtypeName(*dtype), name);
    EXPECT_EQ(DtypeBits(*dtype), bits) << name;
    seen.insert(*dtype);
  }
  EXPECT_EQ(seen.size(), 22u);
}

TEST(DtypeTest, NamesAreExact) {
  for (const char* name : {"f32", "F32 ", " F32", "FLOAT32", "", "F8_E4M3FN", "bool"}) {
    EXPECT_FALSE(ParseDtype(name).has_value()) << name;
  }
  EXPECT_FALSE(ParseDtype(absl::string_view("F32\0", 4)).has_value());
}

TEST(DtypeTest, EnumOrderIsTheWritersAlignmentOrder) {
  // Writers sort by this order, descending: 8-byte types first.
  EXPECT_LT(Dtype::kBool, Dtype::kF4);
  EXPECT_LT(Dtype::kF8_E5M2FNUZ, Dtype::kI16);
  EXPECT_LT(Dtype::kF32, Dtype::kC64);
  EXPECT_LT(Dtype::kI64, Dtype::kU64);
  uint64_t previous = 0;
  for (Dtype dtype : AllDtypes()) {
    EXPECT_GE(DtypeAlignment(dtype), previous) << DtypeName(dtype);
    previous = DtypeAlignment(dtype);
  }
}

}  // namespace
}  // namespace safetensors

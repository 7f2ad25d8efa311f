#include "parser/header_writer.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "parser/error.h"
#include "parser/header.h"
#include "parser/status_matchers.h"

namespace safetensors {
namespace {

using ::safetensors::testing::HasErrorCode;
using ::testing::ElementsAre;

std::string JsonOf(const SerializedHeader& h) { return h.bytes.substr(8); }

// Header bytes written by the reference (safetensors 0.8.0 with torch 2.13,
// safetensors.torch.save) for the same tensors and metadata.
TEST(HeaderWriterTest, BytesEqualTheReferenceWriters) {
  const std::string odd_name = "\xC3\xA9\n\x01\x7F\"\\/";
  const std::vector<TensorDescription> tensors = {
      {"b", Dtype::kF32, {2}},        {"a", Dtype::kF32, {1}},
      {"c", Dtype::kBF16, {3}},       {"d", Dtype::kI64, {1}},
      {"e", Dtype::kU8, {5}},         {"B", Dtype::kBool, {1}},
      {odd_name, Dtype::kF64, {1}},   {"z", Dtype::kF16, {0}},
      {"f8", Dtype::kF8_E4M3, {2}},   {"c64", Dtype::kC64, {1}},
  };
  ASSERT_OK_AND_ASSIGN(
      SerializedHeader h,
      SerializeHeader(tensors, MetadataEntries{{"k\x01", "v\"\xC3\xA9"}}));
  const std::string expected =
      "{\"__metadata__\":{\"k\\u0001\":\"v\\\"\xc3\xa9\"},"
      "\"d\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,8]},"
      "\"\xc3\xa9\\n\\u0001\x7f\\\"\\\\/\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[8,16]},"
      "\"c64\":{\"dtype\":\"C64\",\"shape\":[1],\"data_offsets\":[16,24]},"
      "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[24,28]},"
      "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[28,36]},"
      "\"c\":{\"dtype\":\"BF16\",\"shape\":[3],\"data_offsets\":[36,42]},"
      "\"z\":{\"dtype\":\"F16\",\"shape\":[0],\"data_offsets\":[42,42]},"
      "\"f8\":{\"dtype\":\"F8_E4M3\",\"shape\":[2],\"data_offsets\":[42,44]},"
      "\"e\":{\"dtype\":\"U8\",\"shape\":[5],\"data_offsets\":[44,49]},"
      "\"B\":{\"dtype\":\"BOOL\",\"shape\":[1],\"data_offsets\":[49,50]}}  ";
  EXPECT_EQ(JsonOf(h), expected);
  EXPECT_EQ(h.bytes.substr(0, 8), std::string("\x60\x02\0\0\0\0\0\0", 8));  // 608
  EXPECT_EQ(h.data_size, 50u);
  std::vector<size_t> order;
  for (const TensorPlacement& p : h.layout) order.push_back(p.input_index);
  EXPECT_THAT(order, ElementsAre(3, 6, 9, 1, 0, 2, 7, 8, 4, 5));
}

TEST(HeaderWriterTest, EmptyAndMetadataForms) {
  ASSERT_OK_AND_ASSIGN(SerializedHeader empty, SerializeHeader({}, std::nullopt));
  EXPECT_EQ(empty.bytes, std::string("\x08\0\0\0\0\0\0\0{}      ", 16));
  const std::vector<TensorDescription> x = {{"x", Dtype::kF32, {1}}};
  ASSERT_OK_AND_ASSIGN(SerializedHeader none, SerializeHeader(x, std::nullopt));
  EXPECT_EQ(JsonOf(none), "{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}  ");
  ASSERT_OK_AND_ASSIGN(SerializedHeader braces, SerializeHeader(x, MetadataEntries{}));
  EXPECT_EQ(JsonOf(braces),
            "{\"__metadata__\":{},\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}");
}

TEST(HeaderWriterTest, OutputParsesBackToTheSameTensors) {
  const std::vector<TensorDescription> tensors = {
      {"scalar", Dtype::kF64, {}},          {"f4", Dtype::kF4, {3, 2}},
      {"f6", Dtype::kF6_E2M3, {4}},         {"empty", Dtype::kI32, {0, 7}},
      {"nul\0name", Dtype::kU16, {2, 2}},   {"big", Dtype::kU8, {1000}},
  };
  ASSERT_OK_AND_ASSIGN(SerializedHeader h,
                       SerializeHeader(tensors, MetadataEntries{{"a", "1"}, {"b", ""}}));
  EXPECT_EQ(h.bytes.size() % 8, 0u);
  const std::string file = h.bytes + std::string(h.data_size, '\x5A');
  ASSERT_OK_AND_ASSIGN(Header parsed, ParseHeader(file));
  ASSERT_EQ(parsed.tensors().size(), tensors.size());
  for (size_t i = 0; i < h.layout.size(); ++i) {
    const TensorInfo& info = parsed.tensors()[i];
    const TensorDescription& in = tensors[h.layout[i].input_index];
    EXPECT_EQ(info.name, in.name);
    EXPECT_EQ(info.dtype, in.dtype);
    EXPECT_THAT(info.shape, ::testing::ElementsAreArray(in.shape));
    EXPECT_EQ(info.data_begin, h.layout[i].data_begin);
    EXPECT_EQ(info.data_end, h.layout[i].data_end);
  }
  EXPECT_THAT(*parsed.metadata(), ElementsAre(std::make_pair("a", "1"), std::make_pair("b", "")));
  // And serializing what was parsed gives the same bytes.
  std::vector<TensorDescription> again;
  for (const TensorInfo& t : parsed.tensors()) {
    again.push_back({t.name, t.dtype, std::vector<uint64_t>(t.shape.begin(), t.shape.end())});
  }
  ASSERT_OK_AND_ASSIGN(SerializedHeader h2, SerializeHeader(again, parsed.metadata()));
  EXPECT_EQ(h2.bytes, h.bytes);
}

TEST(HeaderWriterTest, RefusesWhatNoReaderWouldAccept) {
  EXPECT_THAT(SerializeHeader(std::vector<TensorDescription>{{"a", Dtype::kF32, {1}}, {"a", Dtype::kU8, {1}}},
                              std::nullopt),
              HasErrorCode(ErrorCode::kDuplicateKey));
  EXPECT_THAT(SerializeHeader(std::vector<TensorDescription>{{"a", Dtype::kF32, {1}}},
                              MetadataEntries{{"k", "1"}, {"k", "2"}}),
              HasErrorCode(ErrorCode::kDuplicateKey));
  EXPECT_THAT(SerializeHeader(std::vector<TensorDescription>{{"__metadata__", Dtype::kF32, {1}}}, std::nullopt),
              HasErrorCode(ErrorCode::kBadArgument));
  EXPECT_THAT(SerializeHeader(std::vector<TensorDescription>{{"\xFF", Dtype::kF32, {1}}}, std::nullopt),
              HasErrorCode(ErrorCode::kBadArgument));
  EXPECT_THAT(SerializeHeader({}, MetadataEntries{{"k", "\xC0\xAF"}}),
              HasErrorCode(ErrorCode::kBadArgument));
  EXPECT_THAT(SerializeHeader(std::vector<TensorDescription>{{"f4", Dtype::kF4, {3}}}, std::nullopt),
              HasErrorCode(ErrorCode::kMisalignedSlice));
  EXPECT_THAT(SerializeHeader(std::vector<TensorDescription>{{"o", Dtype::kU8, {0, 1ULL << 62, 8}}}, std::nullopt),
              HasErrorCode(ErrorCode::kValidationOverflow));
  EXPECT_THAT(SerializeHeader(std::vector<TensorDescription>{{"a", Dtype::kU8, {1ULL << 60}},
                                                             {"b", Dtype::kU8, {1ULL << 60}},
                                                             {"c", Dtype::kU8, {(1ULL << 63)}}},
                              std::nullopt),
              HasErrorCode(ErrorCode::kValidationOverflow));
}

}  // namespace
}  // namespace safetensors

#include "parser/header.h"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "parser/dtype.h"
#include "parser/error.h"
#include "parser/status_matchers.h"

namespace safetensors {
namespace {

using ::safetensors::testing::HasErrorCode;
using ::safetensors::testing::IsOk;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// A file: little-endian length, `json`, then `data`.
std::string File(const std::string& json, const std::string& data = "") {
  std::string out(8, '\0');
  uint64_t n = json.size();
  for (int i = 0; i < 8; ++i) out[static_cast<size_t>(i)] = static_cast<char>((n >> (8 * i)) & 0xFF);
  return out + json + data;
}

std::string Entry(const std::string& name, const std::string& dtype,
                  const std::string& shape, uint64_t begin, uint64_t end,
                  const std::string& extra = "") {
  return absl::StrCat("\"", name, "\":{\"dtype\":\"", dtype, "\",\"shape\":", shape,
                      ",\"data_offsets\":[", begin, ",", end, "]", extra, "}");
}

std::string Object(std::initializer_list<std::string> entries) {
  return absl::StrCat("{", absl::StrJoin(entries, ","), "}");
}

absl::StatusOr<Header> Parse(const std::string& file) { return ParseHeader(file); }

constexpr char kU64Max[] = "18446744073709551615";
constexpr char k2Pow64[] = "18446744073709551616";

TEST(HeaderTest, ParsesTensorsMetadataAndSizes) {
  const std::string json = Object({"\"__metadata__\":{\"format\":\"pt\",\"b\":\"2\"}",
                                   Entry("w", "F32", "[2,3]", 0, 24),
                                   Entry("b", "BF16", "[3]", 24, 30)});
  ASSERT_OK_AND_ASSIGN(Header header, Parse(File(json, std::string(30, 'x'))));
  ASSERT_EQ(header.tensors().size(), 2u);
  const TensorInfo& w = header.tensors()[0];
  EXPECT_EQ(w.name, "w");
  EXPECT_EQ(w.dtype, Dtype::kF32);
  EXPECT_THAT(w.shape, ElementsAre(2, 3));
  EXPECT_EQ(w.num_elements(), 6u);
  EXPECT_EQ(w.num_bytes(), 24u);
  EXPECT_EQ(header.Find("b"), &header.tensors()[1]);
  EXPECT_EQ(header.Find("missing"), nullptr);
  ASSERT_TRUE(header.metadata().has_value());
  EXPECT_THAT(*header.metadata(),
              ElementsAre(std::make_pair("format", "pt"), std::make_pair("b", "2")));
  EXPECT_EQ(header.header_size(), json.size());
  EXPECT_EQ(header.data_offset(), 8 + json.size());
  EXPECT_EQ(header.data_size(), 30u);
}

TEST(HeaderTest, TensorsComeInOffsetOrderAndLookupFollows) {
  const std::string json = Object({Entry("late", "U8", "[2]", 3, 5),
                                   Entry("early", "U8", "[3]", 0, 3)});
  ASSERT_OK_AND_ASSIGN(Header header, Parse(File(json, "abcde")));
  EXPECT_EQ(header.tensors()[0].name, "early");
  EXPECT_EQ(header.tensors()[1].name, "late");
  EXPECT_EQ(header.Find("late")->data_begin, 3u);
  EXPECT_EQ(header.Find("early")->data_begin, 0u);
}

TEST(HeaderTest, HeaderSurvivesMoveWithViewsIntact) {
  std::string json = "{";
  for (int i = 0; i < 2000; ++i) {
    if (i) json += ",";
    json += Entry(absl::StrCat("tensor_with_a_long_name_", i), "U8", "[1,1,1]", static_cast<uint64_t>(i), static_cast<uint64_t>(i + 1));
  }
  json += "}";
  ASSERT_OK_AND_ASSIGN(Header original, Parse(File(json, std::string(2000, 'x'))));
  Header moved = std::move(original);
  EXPECT_EQ(moved.tensors()[1999].name, "tensor_with_a_long_name_1999");
  EXPECT_THAT(moved.Find("tensor_with_a_long_name_7")->shape, ElementsAre(1, 1, 1));
}

TEST(HeaderTest, MetadataAbsentNullAndEmptyDiffer) {
  ASSERT_OK_AND_ASSIGN(Header absent, Parse(File("{}")));
  EXPECT_FALSE(absent.metadata().has_value());
  ASSERT_OK_AND_ASSIGN(Header null, Parse(File("{\"__metadata__\":null}")));
  EXPECT_FALSE(null.metadata().has_value());
  ASSERT_OK_AND_ASSIGN(Header empty, Parse(File("{\"__metadata__\":{}}")));
  ASSERT_TRUE(empty.metadata().has_value());
  EXPECT_TRUE(empty.metadata()->empty());
}

// --- Framing ---------------------------------------------------------------

TEST(HeaderTest, FramingErrors) {
  EXPECT_THAT(Parse(""), HasErrorCode(ErrorCode::kHeaderTooSmall));
  EXPECT_THAT(Parse("1234567"), HasErrorCode(ErrorCode::kHeaderTooSmall));
  EXPECT_THAT(Parse(File("{}").substr(0, 9)), HasErrorCode(ErrorCode::kInvalidHeaderLength));
  std::string big(8, '\xFF');
  EXPECT_THAT(Parse(big), HasErrorCode(ErrorCode::kHeaderTooLarge));
  // N + 8 wraps around 2^64: rejected by the limit before any sum is formed.
  std::string wraps = "\xF9\xFF\xFF\xFF\xFF\xFF\xFF\xFF{}";
  EXPECT_THAT(Parse(wraps), HasErrorCode(ErrorCode::kHeaderTooLarge));
  EXPECT_THAT(Parse(File("")), HasErrorCode(ErrorCode::kInvalidJson));
}

TEST(HeaderTest, LimitIsConfigurableAndCheckedFirst) {
  const std::string file = File("{}  ");
  ParseOptions small;
  small.max_header_size = 3;
  EXPECT_THAT(ParseHeader(file, small), HasErrorCode(ErrorCode::kHeaderTooLarge));
  small.max_header_size = 4;
  EXPECT_THAT(ParseHeader(file, small), IsOk());
  // Limit before length: a 1 KB length in a 20-byte file is "too large" for
  // a 100-byte limit, not "past the end".
  std::string file2 = File(std::string(1000, ' '));
  small.max_header_size = 100;
  EXPECT_THAT(ParseHeader(file2.substr(0, 20), small),
              HasErrorCode(ErrorCode::kHeaderTooLarge));
}

TEST(HeaderTest, PrefixMustHoldTheHeader) {
  const std::string file = File("{}", "");
  const absl::Span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(file.data()),
                                        file.size());
  EXPECT_THAT(ParseHeader(bytes.first(9), file.size()),
              HasErrorCode(ErrorCode::kBadArgument));
  EXPECT_THAT(ParseHeader(bytes, file.size() - 1),
              HasErrorCode(ErrorCode::kBadArgument));
  ASSERT_OK_AND_ASSIGN(uint64_t n, ReadHeaderSize(bytes.first(8), file.size(), {}));
  EXPECT_EQ(n, 2u);
}

TEST(HeaderTest, JudgesAHugeFileFromItsPrefix) {
  // A 10 GB file is validated from its header alone; the data is never read.
  const uint64_t kTen = 10'000'000'000ULL;
  const std::string file = File(Object({Entry("big", "U8", absl::StrCat("[", kTen, "]"), 0, kTen)}));
  const absl::Span<const uint8_t> prefix(reinterpret_cast<const uint8_t*>(file.data()),
                                         file.size());
  ASSERT_OK_AND_ASSIGN(Header header, ParseHeader(prefix, file.size() + kTen));
  EXPECT_EQ(header.data_size(), kTen);
  EXPECT_THAT(ParseHeader(prefix, file.size() + kTen - 1),
              HasErrorCode(ErrorCode::kMetadataIncompleteBuffer));
}

// --- Text: UTF-8, JSON grammar ---------------------------------------------

TEST(HeaderTest, Utf8IsCheckedBeforeJson) {
  // Invalid UTF-8 inside otherwise broken JSON is still a UTF-8 error, as in
  // the reference.
  EXPECT_THAT(Parse(File("{\"\xC0\xAF\": [")), HasErrorCode(ErrorCode::kInvalidUtf8));
  EXPECT_THAT(Parse(File("{\"\xED\xA0\x80\":1}")), HasErrorCode(ErrorCode::kInvalidUtf8));
  EXPECT_THAT(Parse(File("{\"\xF4\x90\x80\x80\":1}")), HasErrorCode(ErrorCode::kInvalidUtf8));
  EXPECT_THAT(Parse(File("{}\xE2\x82")), HasErrorCode(ErrorCode::kInvalidUtf8));
  absl::StatusOr<Header> bad = Parse(File("{  \xFF}"));
  EXPECT_THAT(bad.status().message(), HasSubstr("byte 11"));
}

TEST(HeaderTest, WhitespaceIsOnlySpaceTabCrLf) {
  EXPECT_THAT(Parse(File(" \t\r\n{ \t\r\n} \t\r\n")), IsOk());
  EXPECT_THAT(Parse(File("{}\f")), HasErrorCode(ErrorCode::kInvalidJson));
  EXPECT_THAT(Parse(File("{}\v")), HasErrorCode(ErrorCode::kInvalidJson));
  EXPECT_THAT(Parse(File(std::string("{}\0", 3))), HasErrorCode(ErrorCode::kInvalidJson));
  EXPECT_THAT(Parse(File("\xEF\xBB\xBF{}")), HasErrorCode(ErrorCode::kInvalidJson));
}

TEST(HeaderTest, SyntaxErrorsAreInvalidJson) {
  for (const char* json :
       {"{", "{\"a\"", "{\"a\":", "{,}", "{\"__metadata__\":{},}", "{} {}", "{'a':1}",
        "{\"__metadata__\":{} /*c*/}", "{\"a\" {}}", "{a:{}}", "}"}) {
    EXPECT_THAT(Parse(File(json)), HasErrorCode(ErrorCode::kInvalidJson)) << json;
  }
}

TEST(HeaderTest, WellFormedJsonOfTheWrongShapeIsInvalidSchema) {
  for (const char* json : {"[]", "null", "1", "\"s\"", "true", "{\"a\":\"x\"}",
                           "{\"a\":1}", "{\"a\":null}", "{\"a\":[]}"}) {
    absl::StatusOr<Header> result = Parse(File(json));
    EXPECT_THAT(result, HasErrorCode(ErrorCode::kInvalidSchema)) << json;
    EXPECT_EQ(ReferenceErrorClass(*GetErrorCode(result.status())),
              "InvalidHeaderDeserialization");
  }
}

TEST(HeaderTest, EveryEscapeDecodes) {
  const std::string name = R"(q\" b\\ s\/ \b\f\n\r\t \u0041\u00e9\u20AC \ud83d\ude00 \u0000)";
  ASSERT_OK_AND_ASSIGN(Header header,
                       Parse(File(Object({Entry(name, "U8", "[1]", 0, 1)}), "x")));
  const char kDecoded[] = "q\" b\\ s/ \b\f\n\r\t A\xC3\xA9\xE2\x82\xAC \xF0\x9F\x98\x80 \0";
  EXPECT_EQ(header.tensors()[0].name, std::string(kDecoded, sizeof(kDecoded) - 1));
}

TEST(HeaderTest, BadEscapesAndRawControlsAreRejected) {
  for (const char* name : {R"(\x41)", R"(\u12)", R"(\u12G4)", R"(\ud800)",
                           R"(\ud800\u0041)", R"(\udc00)", R"(\udc00\ud800)",
                           R"(\ud800x)", "a\nb", "a\x01", "\\"}) {
    EXPECT_THAT(Parse(File(Object({Entry(name, "U8", "[1]", 0, 1)}), "x")),
                HasErrorCode(ErrorCode::kInvalidJson))
        << name;
  }
  // DEL and non-ASCII need no escape.
  EXPECT_THAT(Parse(File(Object({Entry("a\x7F\xC3\xA9", "U8", "[1]", 0, 1)}), "x")), IsOk());
}

TEST(HeaderTest, NumbersInShapesAndOffsetsArePlainU64) {
  auto with_shape = [](const std::string& dim) {
    return File(Object({Entry("t", "U8", "[" + dim + "]", 0, 0)}));
  };
  EXPECT_THAT(Parse(with_shape("0")), IsOk());
  // 2^64-1 is a number here; the shape then fails the overflow rule, not the
  // grammar.
  EXPECT_THAT(Parse(File(Object({Entry("t", "U8", absl::StrCat("[", kU64Max, ",0]"), 0, 0)}))),
              HasErrorCode(ErrorCode::kValidationOverflow));
  EXPECT_THAT(Parse(File(Object({Entry("t", "U8", "[0]", 0, 0)}), "")), IsOk());
  for (const char* dim : {"-1", "-0", "1.0", "1e2", "1E2", k2Pow64, "99999999999999999999", "true", "null", "\"1\"", "[1]", "{}"}) {
    EXPECT_THAT(Parse(with_shape(dim)), HasErrorCode(ErrorCode::kInvalidSchema)) << dim;
  }
  for (const char* dim : {"01", "+1", "1.", ".5", "1e", "-", "0x10", "1_0", "Infinity", "NaN"}) {
    EXPECT_THAT(Parse(with_shape(dim)), HasErrorCode(ErrorCode::kInvalidJson)) << dim;
  }
}

// The reader takes entries spelled as writers spell them on a fast path and
// everything else on the general one. A space after every ':' and ','
// (outside names) sends an entry down the general path: both spellings must
// give the same tensors, or the same error code.
std::string Spaced(const std::string& json) {
  std::string out;
  for (char c : json) {
    out += c;
    if (c == ':' || c == ',') out += ' ';
  }
  return out;
}

TEST(HeaderTest, PlainAndSpacedSpellingsReadAlike) {
  const std::string nine_dims = "[1,1,1,1,1,1,1,1,2]";  // more dims than the fast path keeps
  const std::vector<std::pair<std::string, size_t>> valid = {  // header, data bytes
      {Object({Entry("w", "F32", "[2,3]", 0, 24), Entry("b", "BF16", "[3]", 24, 30)}), 30},
      {Object({Entry("scalar", "F64", "[]", 0, 8), Entry("empty", "U8", "[0,5]", 8, 8)}), 8},
      {Object({Entry("deep", "I8", nine_dims, 0, 2)}), 2},
      {Object({Entry("big", "U8", "[1000000000000000000,0]", 0, 0)}), 0},  // 19 digits
      {Object({Entry("esc\\u00e9\\n", "U8", "[2]", 0, 2)}), 2},  // escapes: general path only
      {Object({Entry("caf\xc3\xa9", "U8", "[2]", 0, 2)}), 2},
      {Object({"\"__metadata__\":{\"format\":\"pt\"}", Entry("m", "F8_E4M3", "[1]", 0, 1)}), 1},
  };
  for (const auto& [json, data_bytes] : valid) {
    SCOPED_TRACE(json);
    const std::string data(data_bytes, 'x');
    ASSERT_OK_AND_ASSIGN(Header plain, Parse(File(json, data)));
    ASSERT_OK_AND_ASSIGN(Header general, Parse(File(Spaced(json), data)));
    ASSERT_EQ(plain.tensors().size(), general.tensors().size());
    for (size_t i = 0; i < plain.tensors().size(); ++i) {
      EXPECT_EQ(plain.tensors()[i], general.tensors()[i]);
    }
    EXPECT_EQ(plain.metadata(), general.metadata());
  }
  const std::vector<std::string> invalid = {
      Object({Entry("t", "F33", "[1]", 0, 4)}),                   // unknown dtype
      Object({Entry("t", "U8", "[01]", 0, 1)}),                   // leading zero
      Object({Entry("t", "U8", "[1.0]", 0, 1)}),                  // fraction
      Object({Entry("t", "U8", "[1e0]", 0, 1)}),                  // exponent
      Object({Entry("t", "U8", "[-1]", 0, 1)}),                   // sign
      Object({Entry("t", "U8", absl::StrCat("[", k2Pow64, "]"), 0, 1)}),
      Object({Entry("t", "U8", absl::StrCat("[", kU64Max, "]"), 0, 1)}),  // 20 digits
      Object({Entry("__metadata__", "U8", "[1]", 0, 1)}),         // not a tensor name
      Object({Entry("t", "U8", "[1]", 0, 1), Entry("t", "U8", "[1]", 1, 2)}),  // duplicate
      Object({Entry("t", "U8", "[2]", 0, 1)}),                    // size mismatch
      Object({Entry("t", "U8", "[1]", 1, 2)}),                    // gap
      "{\"t\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}",  // unterminated
      "{\"t\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}}",  // trailing
      "{\"t\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1,2]}}",
      "{\"t\":{\"dtype\":\"U8\",\"shape\":[1,],\"data_offsets\":[0,1]}}",
  };
  for (const std::string& json : invalid) {
    SCOPED_TRACE(json);
    absl::StatusOr<Header> plain = Parse(File(json, "xx"));
    ASSERT_FALSE(plain.ok());
    EXPECT_THAT(Parse(File(Spaced(json), "xx")), HasErrorCode(*GetErrorCode(plain.status())));
  }
}

TEST(HeaderTest, TensorEntrySchema) {
  const std::string ok = "\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]";
  auto file = [](const std::string& body) { return File("{\"t\":{" + body + "}}", "x"); };
  EXPECT_THAT(Parse(file(ok)), IsOk());
  EXPECT_THAT(Parse(file("\"shape\":[1],\"data_offsets\":[0,1]")), HasErrorCode(ErrorCode::kInvalidSchema));
  EXPECT_THAT(Parse(file("\"dtype\":\"U8\",\"data_offsets\":[0,1]")), HasErrorCode(ErrorCode::kInvalidSchema));
  EXPECT_THAT(Parse(file("\"dtype\":\"U8\",\"shape\":[1]")), HasErrorCode(ErrorCode::kInvalidSchema));
  EXPECT_THAT(Parse(file("\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0]")), HasErrorCode(ErrorCode::kInvalidSchema));
  EXPECT_THAT(Parse(file("\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1,2]")), HasErrorCode(ErrorCode::kInvalidSchema));
  EXPECT_THAT(Parse(file("\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":{\"a\":0}")), HasErrorCode(ErrorCode::kInvalidSchema));
  EXPECT_THAT(Parse(file("\"dtype\":\"u8\",\"shape\":[1],\"data_offsets\":[0,1]")), HasErrorCode(ErrorCode::kInvalidSchema));
  EXPECT_THAT(Parse(file("\"dtype\":\"U8 \",\"shape\":[1],\"data_offsets\":[0,1]")), HasErrorCode(ErrorCode::kInvalidSchema));
  EXPECT_THAT(Parse(file("\"dtype\":8,\"shape\":[1],\"data_offsets\":[0,1]")), HasErrorCode(ErrorCode::kInvalidSchema));
  // Field names are compared after unescaping, as the reference does.
  EXPECT_THAT(Parse(file("\"\\u0064type\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]")), IsOk());
  // Repeated known fields are rejected by the reference too.
  EXPECT_THAT(Parse(file(ok + ",\"dtype\":\"U8\"")), HasErrorCode(ErrorCode::kDuplicateKey));
}

TEST(HeaderTest, SerdeOnlyEncodingsAreRejected) {
  // Both accepted by the reference's JSON library; no writer produces them.
  EXPECT_THAT(Parse(File("{\"t\":[\"U8\",[1],[0,1]]}", "x")), HasErrorCode(ErrorCode::kInvalidSchema));
  EXPECT_THAT(Parse(File("{\"t\":{\"dtype\":{\"U8\":null},\"shape\":[1],\"data_offsets\":[0,1]}}", "x")),
              HasErrorCode(ErrorCode::kInvalidSchema));
}

TEST(HeaderTest, EveryDtypeNameParses) {
  for (Dtype dtype : AllDtypes()) {
    const uint64_t bits = DtypeBits(dtype);
    const uint64_t elements = 8;  // whole bytes for 4- and 6-bit dtypes
    const uint64_t bytes = elements * bits / 8;
    ASSERT_OK_AND_ASSIGN(
        Header header,
        Parse(File(Object({Entry("t", std::string(DtypeName(dtype)), "[8]", 0, bytes)}),
                   std::string(bytes, '\0'))));
    EXPECT_EQ(header.tensors()[0].dtype, dtype);
  }
}

// --- Unknown fields and nesting --------------------------------------------

std::string WithUnknownField(const std::string& value) {
  return File(Object({Entry("t", "U8", "[1]", 0, 1, ",\"x\":" + value)}), "x");
}

TEST(HeaderTest, UnknownFieldsMayHoldAnyJson) {
  ASSERT_OK_AND_ASSIGN(Header header, Parse(WithUnknownField(R"({"a":[1,-2.5e-3,true,false,null,"s",{}],"b":{}})")));
  EXPECT_THAT(header.ignored_fields(), ElementsAre(std::make_pair("t", "x")));
  EXPECT_THAT(Parse(WithUnknownField("[1,]")), HasErrorCode(ErrorCode::kInvalidJson));
  EXPECT_THAT(Parse(WithUnknownField("{\"a\"}")), HasErrorCode(ErrorCode::kInvalidJson));
  EXPECT_THAT(Parse(WithUnknownField("tru")), HasErrorCode(ErrorCode::kInvalidJson));
  EXPECT_THAT(Parse(WithUnknownField("\"\\ud800\"")), HasErrorCode(ErrorCode::kInvalidJson));
}

// Numbers in ignored fields: the reference rejects exactly those that are
// infinite as a double (verdicts taken from safetensors 0.8).
TEST(HeaderTest, NumbersInUnknownFieldsFollowTheReference) {
  for (std::string ok : std::vector<std::string>{"1e-400", "-1111111111111111111111111", "0.0e999999",
                         "1.7976931348623157e308", "123456789012345678901234567890",
                         "-9223372036854775808", "0.000e5"}) {
    EXPECT_THAT(Parse(WithUnknownField(ok)), IsOk()) << ok;
  }
  for (std::string bad : std::vector<std::string>{"1e400", "-1e400", "1.8e308", "1" + std::string(400, '0'),
                          "0.001e312", "10e99999999999999999999"}) {
    EXPECT_THAT(Parse(WithUnknownField(bad)), HasErrorCode(ErrorCode::kInvalidJson)) << bad;
  }
}

// serde_json allows 127 nested containers in all; the header object and the
// tensor's object are the first two (limit taken from safetensors 0.8).
TEST(HeaderTest, NestingLimitMatchesTheReference) {
  auto nested = [](int levels) {
    return WithUnknownField(std::string(static_cast<size_t>(levels), '[') +
                            std::string(static_cast<size_t>(levels), ']'));
  };
  EXPECT_THAT(Parse(nested(125)), IsOk());  // depth 127
  EXPECT_THAT(Parse(nested(126)), HasErrorCode(ErrorCode::kInvalidJson));
  std::string objects;
  for (int i = 0; i < 125; ++i) objects += "{\"k\":";
  objects += "1" + std::string(125, '}');
  EXPECT_THAT(Parse(WithUnknownField(objects)), IsOk());
  // A deep hostile value costs no recursion: a million levels is one error.
  EXPECT_THAT(Parse(nested(1'000'000)), HasErrorCode(ErrorCode::kInvalidJson));
}

// --- Layout rules, in the reference's order --------------------------------

TEST(HeaderTest, OffsetsMustTileTheBufferFromZero) {
  EXPECT_THAT(Parse(File(Object({Entry("a", "U8", "[1]", 1, 2)}), "xx")),
              HasErrorCode(ErrorCode::kInvalidOffset));  // gap at start
  EXPECT_THAT(Parse(File(Object({Entry("a", "U8", "[1]", 0, 1), Entry("b", "U8", "[1]", 2, 3)}), "xxx")),
              HasErrorCode(ErrorCode::kInvalidOffset));  // gap between
  EXPECT_THAT(Parse(File(Object({Entry("a", "U8", "[2]", 0, 2), Entry("b", "U8", "[2]", 1, 3)}), "xxx")),
              HasErrorCode(ErrorCode::kInvalidOffset));  // overlap
  EXPECT_THAT(Parse(File(Object({Entry("a", "U8", "[1]", 0, 1), Entry("b", "U8", "[1]", 0, 1)}), "x")),
              HasErrorCode(ErrorCode::kInvalidOffset));  // alias
  absl::StatusOr<Header> reversed = Parse(File(Object({Entry("a", "U8", "[0]", 1, 0)}), "x"));
  EXPECT_THAT(reversed, HasErrorCode(ErrorCode::kInvalidOffset));
  EXPECT_THAT(reversed.status().message(), HasSubstr("tensor \"a\": data_offsets [1, 0] end before begin"));
}

TEST(HeaderTest, ZeroSizedTensorsMayShareAnOffsetAnywhere) {
  const std::string json = Object({Entry("z0", "F32", "[0]", 0, 0), Entry("a", "U8", "[2]", 0, 2),
                                   Entry("z1", "F32", "[3,0]", 2, 2), Entry("z2", "I64", "[0,5]", 2, 2),
                                   Entry("b", "U8", "[1]", 2, 3), Entry("z3", "BOOL", "[0]", 3, 3)});
  ASSERT_OK_AND_ASSIGN(Header header, Parse(File(json, "xyz")));
  std::vector<std::string> order;
  for (const TensorInfo& t : header.tensors()) order.emplace_back(t.name);
  EXPECT_THAT(order, ElementsAre("z0", "a", "z1", "z2", "b", "z3"));
  EXPECT_EQ(header.Find("z2")->num_elements(), 0u);
}

TEST(HeaderTest, ScalarsHaveOneElement) {
  ASSERT_OK_AND_ASSIGN(Header header, Parse(File(Object({Entry("s", "F64", "[]", 0, 8)}), "12345678")));
  EXPECT_TRUE(header.tensors()[0].shape.empty());
  EXPECT_EQ(header.tensors()[0].num_elements(), 1u);
  EXPECT_THAT(Parse(File(Object({Entry("s", "F64", "[]", 0, 0)}))), HasErrorCode(ErrorCode::kTensorInvalidInfo));
}

TEST(HeaderTest, SubByteDtypesNeedWholeBytes) {
  EXPECT_THAT(Parse(File(Object({Entry("f", "F4", "[2,3]", 0, 3)}), "xyz")), IsOk());
  EXPECT_THAT(Parse(File(Object({Entry("f", "F4", "[3]", 0, 2)}), "xy")),
              HasErrorCode(ErrorCode::kMisalignedSlice));
  EXPECT_THAT(Parse(File(Object({Entry("f", "F6_E2M3", "[4]", 0, 3)}), "xyz")), IsOk());
  EXPECT_THAT(Parse(File(Object({Entry("f", "F6_E3M2", "[2]", 0, 2)}), "xy")),
              HasErrorCode(ErrorCode::kMisalignedSlice));
}

TEST(HeaderTest, SizeMustMatchDtypeTimesShape) {
  absl::StatusOr<Header> result = Parse(File(Object({Entry("w", "F32", "[2,3]", 0, 20)}), std::string(20, 'x')));
  EXPECT_THAT(result, HasErrorCode(ErrorCode::kTensorInvalidInfo));
  EXPECT_THAT(result.status().message(),
              HasSubstr("tensor \"w\": dtype F32 and shape [2, 3] need 24 bytes but data_offsets [0, 20] hold 20"));
  // A huge end with a small shape is a size mismatch, not an allocation.
  EXPECT_THAT(Parse(File(Object({Entry("w", "U8", "[1]", 0, UINT64_MAX)}), "x")),
              HasErrorCode(ErrorCode::kTensorInvalidInfo));
}

TEST(HeaderTest, DataBufferMustEndWithTheLastTensor) {
  const std::string json = Object({Entry("a", "U8", "[2]", 0, 2)});
  EXPECT_THAT(Parse(File(json, "xy")), IsOk());
  EXPECT_THAT(Parse(File(json, "x")), HasErrorCode(ErrorCode::kMetadataIncompleteBuffer));
  EXPECT_THAT(Parse(File(json, "xyz")), HasErrorCode(ErrorCode::kMetadataIncompleteBuffer));
  EXPECT_THAT(Parse(File("{}", "x")), HasErrorCode(ErrorCode::kMetadataIncompleteBuffer));
}

// --- Overflow at every boundary ---------------------------------------------

TEST(HeaderTest, ElementCountOverflowAtTheExactBoundary) {
  // 2^32 * 2^32 = 2^64: one past u64.
  EXPECT_THAT(Parse(File(Object({Entry("t", "U8", "[4294967296,4294967296]", 0, 0)}))),
              HasErrorCode(ErrorCode::kValidationOverflow));
  // (2^32 - 1) * (2^32 + 1) = 2^64 - 1 elements: fits; times 8 bits does not.
  EXPECT_THAT(Parse(File(Object({Entry("t", "U8", "[4294967295,4294967297]", 0, 0)}))),
              HasErrorCode(ErrorCode::kValidationOverflow));
  // 2^61 U8 elements = 2^64 bits: just past the bit count's range.
  EXPECT_THAT(Parse(File(Object({Entry("t", "U8", "[2305843009213693952]", 0, 0)}))),
              HasErrorCode(ErrorCode::kValidationOverflow));
  // 2^61 - 1 U8 elements: the bits fit, so the size check decides.
  EXPECT_THAT(Parse(File(Object({Entry("t", "U8", "[2305843009213693951]", 0, 0)}))),
              HasErrorCode(ErrorCode::kTensorInvalidInfo));
  // u64 max elements of F4: 4 bits each overflows.
  EXPECT_THAT(Parse(File(Object({Entry("t", "F4", absl::StrCat("[", kU64Max, "]"), 0, 0)}))),
              HasErrorCode(ErrorCode::kValidationOverflow));
}

TEST(HeaderTest, OverflowFoldsLeftToRightAsTheReference) {
  // The reference multiplies left to right: an overflow before a zero is an
  // overflow.
  EXPECT_THAT(Parse(File(Object({Entry("t", "U8", "[1099511627776,1099511627776,0]", 0, 0)}))),
              HasErrorCode(ErrorCode::kValidationOverflow));
}

TEST(HeaderTest, OverflowIsCheckedIndependentlyOfDimensionOrder) {
  // The reference accepts these (a zero comes first); we do not.
  EXPECT_THAT(Parse(File(Object({Entry("t", "U8", "[0,1099511627776,1099511627776]", 0, 0)}))),
              HasErrorCode(ErrorCode::kValidationOverflow));
  EXPECT_THAT(Parse(File(Object({Entry("t", "F64", absl::StrCat("[0,", kU64Max, "]"), 0, 0)}))),
              HasErrorCode(ErrorCode::kValidationOverflow));
  // Largest that fits: 2^61 - 1 ignoring the zero, times 8 bits.
  EXPECT_THAT(Parse(File(Object({Entry("t", "U8", "[0,2305843009213693951]", 0, 0)}))), IsOk());
}

TEST(HeaderTest, StrictRulesComeAfterTheReferencesChecks) {
  // Duplicate names and a gap: the reference says InvalidOffset (it keeps the
  // last duplicate), so do we.
  const std::string json = Object({Entry("a", "U8", "[1]", 0, 1), Entry("a", "U8", "[1]", 1, 2)});
  EXPECT_THAT(Parse(File(json, "xy")), HasErrorCode(ErrorCode::kInvalidOffset));
  // Order-independent overflow in one tensor, size mismatch in a later one:
  // the reference's error wins.
  const std::string json2 = Object({Entry("a", "U8", "[0,1099511627776,1099511627776]", 0, 0),
                                    Entry("b", "U8", "[2]", 0, 1)});
  EXPECT_THAT(Parse(File(json2, "x")), HasErrorCode(ErrorCode::kTensorInvalidInfo));
}

// --- Duplicate keys ---------------------------------------------------------

TEST(HeaderTest, DuplicateKeysAnywhereAreRejected) {
  const std::string data = "x";
  auto tensor = [](const std::string& extra) { return Entry("t", "U8", "[1]", 0, 1, extra); };
  EXPECT_THAT(Parse(File(Object({tensor(""), Entry("t", "U8", "[1]", 0, 1)}), data)),
              HasErrorCode(ErrorCode::kDuplicateKey));
  EXPECT_THAT(Parse(File(Object({tensor(""), Entry("\\u0074", "U8", "[1]", 0, 1)}), data)),
              HasErrorCode(ErrorCode::kDuplicateKey));  // equal after unescaping
  EXPECT_THAT(Parse(File(Object({tensor(",\"x\":1,\"x\":2")}), data)),
              HasErrorCode(ErrorCode::kDuplicateKey));  // unknown field twice
  EXPECT_THAT(Parse(File(Object({tensor(",\"x\":[{\"k\":1,\"k\":2}]")}), data)),
              HasErrorCode(ErrorCode::kDuplicateKey));  // nested in an unknown field
  EXPECT_THAT(Parse(File("{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}")),
              HasErrorCode(ErrorCode::kDuplicateKey));
  EXPECT_THAT(Parse(File("{\"__metadata__\":null,\"__metadata__\":null}")),
              HasErrorCode(ErrorCode::kDuplicateKey));
  EXPECT_THAT(Parse(File("{\"__metadata__\":{},\"\\u005f_metadata__\":{}}")),
              HasErrorCode(ErrorCode::kDuplicateKey));
  // The same key in different objects is fine.
  EXPECT_THAT(Parse(File(Object({tensor(",\"x\":{\"k\":1,\"j\":{\"k\":2}}")}), data)), IsOk());
  absl::StatusOr<Header> dup = Parse(File(Object({tensor(""), tensor("")}), data));
  EXPECT_THAT(dup.status().message(), HasSubstr("duplicate tensor name \"t\" at bytes 9 and"));
}

TEST(HeaderTest, MetadataSchema) {
  EXPECT_THAT(Parse(File("{\"__metadata__\":{\"k\":1}}")), HasErrorCode(ErrorCode::kInvalidSchema));
  EXPECT_THAT(Parse(File("{\"__metadata__\":{\"k\":null}}")), HasErrorCode(ErrorCode::kInvalidSchema));
  EXPECT_THAT(Parse(File("{\"__metadata__\":{\"k\":{}}}")), HasErrorCode(ErrorCode::kInvalidSchema));
  EXPECT_THAT(Parse(File("{\"__metadata__\":[]}")), HasErrorCode(ErrorCode::kInvalidSchema));
  EXPECT_THAT(Parse(File("{\"__metadata__\":\"s\"}")), HasErrorCode(ErrorCode::kInvalidSchema));
  EXPECT_THAT(Parse(File("{\"__METADATA__\":{}}")), HasErrorCode(ErrorCode::kInvalidSchema));
  ASSERT_OK_AND_ASSIGN(Header header, Parse(File("{\"__metadata__\":{\"k\\u0000\":\"v\\u0000\"}}")));
  EXPECT_THAT(*header.metadata(), ElementsAre(std::make_pair(std::string("k\0", 2), std::string("v\0", 2))));
}

// --- Scale ------------------------------------------------------------------

TEST(HeaderTest, HundredThousandTensors) {
  std::string json = "{";
  std::string data;
  for (int i = 0; i < 100'000; ++i) {
    if (i) json += ",";
    const uint64_t begin = static_cast<uint64_t>(i) * 2;
    json += Entry(absl::StrCat("layer.", i, ".weight"), "F16", "[1]", begin, begin + 2);
  }
  json += "}";
  ASSERT_OK_AND_ASSIGN(Header header, Parse(File(json, std::string(200'000, '\0'))));
  EXPECT_EQ(header.tensors().size(), 100'000u);
  EXPECT_EQ(header.Find("layer.99999.weight")->data_begin, 199'998u);
}

TEST(HeaderTest, HugeRankIsLinear) {
  std::string shape = "[";
  for (int i = 0; i < 100'000; ++i) shape += i ? ",1" : "1";
  shape += "]";
  ASSERT_OK_AND_ASSIGN(Header header, Parse(File(Object({Entry("t", "U8", shape, 0, 1)}), "x")));
  EXPECT_EQ(header.tensors()[0].shape.size(), 100'000u);
  // Messages stay short however large the rank.
  absl::StatusOr<Header> bad = Parse(File(Object({Entry("t", "U8", shape, 0, 2)}), "xy"));
  EXPECT_LT(bad.status().message().size(), 300u);
}

TEST(HeaderTest, LongNamesAreCutInMessages) {
  const std::string name(1'000'000, 'n');
  absl::StatusOr<Header> bad = Parse(File(Object({Entry(name, "U8", "[1]", 0, 2)}), "xy"));
  EXPECT_THAT(bad, HasErrorCode(ErrorCode::kTensorInvalidInfo));
  EXPECT_LT(bad.status().message().size(), 400u);
  EXPECT_THAT(bad.status().message(), HasSubstr("(1000000 bytes)"));
}

}  // namespace
}  // namespace safetensors

#include "parser/pickle_reader.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "parser/error.h"
#include "parser/status_matchers.h"

namespace safetensors {
namespace {

using ::testing::HasSubstr;
using testing::HasErrorCode;
using testing::IsOk;

absl::StatusOr<Pickle> Read(const std::string& bytes, PickleLimits limits = {}) {
  return ReadPickle(absl::Span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()),
                    /*base_offset=*/100, limits);
}

// A string literal's bytes, embedded NULs included.
template <size_t N>
std::string Bytes(const char (&literal)[N]) {
  return std::string(literal, N - 1);
}

template <size_t N>
absl::StatusOr<Pickle> Read(const char (&literal)[N], PickleLimits limits = {}) {
  return Read(Bytes(literal), limits);
}

template <size_t N>
std::string Refusal(const char (&literal)[N]) {
  const std::string bytes = Bytes(literal);
  const absl::StatusOr<Pickle> pickle = Read(bytes);
  EXPECT_THAT(pickle, HasErrorCode(ErrorCode::kInvalidPickle));
  return std::string(pickle.status().message());
}

TEST(PickleReaderTest, BuildsInertValues) {
  // {"a": (1, -2, 300, 2**40, 1.5, None, True), "b": [os.system("x")]} with memo.
  const std::string bytes =
      Bytes("\x80\x02}q\x00(X\x01\x00\x00\x00" "a" "(K\x01J\xfe\xff\xff\xffM\x2c\x01"
            "\x8a\x06\x00\x00\x00\x00\x00\x01" "G\x3f\xf8\x00\x00\x00\x00\x00\x00" "N\x88"
            "tX\x01\x00\x00\x00" "b]q\x01" "cos\nsystem\nX\x01\x00\x00\x00x\x85R" "a"
            "X\x01\x00\x00\x00" "ch\x01\x85u.");
  const absl::StatusOr<Pickle> pickle = Read(bytes);
  ASSERT_THAT(pickle, IsOk());
  EXPECT_EQ(pickle->size, bytes.size());
  const PickleValue& root = pickle->value(pickle->root);
  ASSERT_EQ(root.kind, PickleKind::kDict);
  ASSERT_EQ(root.items.size(), 6u);
  const PickleValue& tuple = pickle->value(root.items[1]);
  ASSERT_EQ(tuple.kind, PickleKind::kTuple);
  ASSERT_EQ(tuple.items.size(), 7u);
  EXPECT_EQ(pickle->value(tuple.items[0]).integer, 1);
  EXPECT_EQ(pickle->value(tuple.items[1]).integer, -2);
  EXPECT_EQ(pickle->value(tuple.items[2]).integer, 300);
  EXPECT_EQ(pickle->value(tuple.items[3]).integer, int64_t{1} << 40);
  EXPECT_EQ(pickle->value(tuple.items[4]).real, 1.5);
  EXPECT_EQ(pickle->value(tuple.items[5]).kind, PickleKind::kNone);
  EXPECT_EQ(pickle->value(tuple.items[6]).kind, PickleKind::kBool);
  // The call is recorded, not made; the list came back from the memo.
  const PickleValue& list = pickle->value(root.items[3]);
  ASSERT_EQ(list.kind, PickleKind::kList);
  ASSERT_EQ(list.items.size(), 1u);
  const PickleValue& call = pickle->value(list.items[0]);
  ASSERT_EQ(call.kind, PickleKind::kCall);
  EXPECT_EQ(pickle->value(call.items[0]).text, "os.system");
  EXPECT_EQ(pickle->value(root.items[5]).kind, PickleKind::kTuple);  // (list,) via BINGET
  ASSERT_EQ(pickle->globals.size(), 1u);
  EXPECT_EQ(pickle->globals[0].name, "os.system");
  EXPECT_EQ(pickle->globals[0].offset, 100u + 52u);
}

TEST(PickleReaderTest, NegativeLong1SignExtends) {
  const absl::StatusOr<Pickle> pickle = Read("\x80\x02\x8a\x02\x00\xff.");
  ASSERT_THAT(pickle, IsOk());
  EXPECT_EQ(pickle->value(pickle->root).integer, -256);
}

TEST(PickleReaderTest, OrderedDictOfNothingIsADict) {
  const absl::StatusOr<Pickle> pickle =
      Read("\x80\x02\x63" "collections\nOrderedDict\n)RX\x01\x00\x00\x00kNs}b.");
  ASSERT_THAT(pickle, IsOk());
  const PickleValue& root = pickle->value(pickle->root);
  EXPECT_EQ(root.kind, PickleKind::kDict);
  EXPECT_EQ(root.items.size(), 2u);
  EXPECT_NE(root.state, kNoValue);
}

TEST(PickleReaderTest, RefusesOutsideTheGrammar) {
  EXPECT_THAT(Refusal("N."), HasSubstr("the first opcode is not PROTO"));
  EXPECT_THAT(Refusal("\x80\x03N."), HasSubstr("protocol 3"));
  EXPECT_THAT(Refusal("\x80\x02\x80\x02N."), HasSubstr("PROTO after the first opcode"));
  EXPECT_THAT(Refusal("\x80\x02N"), HasSubstr("ends without STOP"));
  EXPECT_THAT(Refusal("\x80\x02NN."), HasSubstr("2 values on the stack"));
  EXPECT_THAT(Refusal("\x80\x02(N."), HasSubstr("MARK still open"));
  EXPECT_THAT(Refusal("\x80\x02]K\x01K\x02s."), HasSubstr("SETITEM on a list"));
  EXPECT_THAT(Refusal("\x80\x02}K\x01" "a."), HasSubstr("APPEND on a dict"));
  EXPECT_THAT(Refusal("\x80\x02]}b."), HasSubstr("BUILD on a list"));
  EXPECT_THAT(Refusal("\x80\x02N)R."), HasSubstr("REDUCE of a None"));
  EXPECT_THAT(Refusal("\x80\x02\x63os\nsystem\nNR."), HasSubstr("REDUCE with a None"));
  EXPECT_THAT(Refusal("\x80\x02h\x05."), HasSubstr("never PUT"));
  EXPECT_THAT(Refusal("\x80\x02X\x05\x00\x00\x00" "ab."), HasSubstr("runs past the end"));
  EXPECT_THAT(Refusal("\x80\x02X\x02\x00\x00\x00\xc3(."), HasSubstr("not UTF-8"));
  EXPECT_THAT(Refusal("\x80\x02\x63os system\nx\n."), HasSubstr("not printable ASCII"));
  EXPECT_THAT(Refusal("\x80\x02\x93."), HasSubstr("STACK_GLOBAL 0x93"));
  EXPECT_THAT(Refusal("\x80\x02\x8c\x01x."), HasSubstr("SHORT_BINUNICODE"));
  EXPECT_THAT(Refusal("\x80\x02\x01."), HasSubstr("0x01 is not read"));
  EXPECT_THAT(Refusal("\x80\x02(Ns."), HasSubstr("stack (above its MARK) is empty"));
}

TEST(PickleReaderTest, EnforcesItsLimits) {
  PickleLimits limits;
  limits.max_mark_depth = 3;
  EXPECT_THAT(Read("\x80\x02((((", limits), HasErrorCode(ErrorCode::kInvalidPickle));
  limits = {};
  limits.max_values = 2;
  EXPECT_THAT(Read("\x80\x02NNN", limits), HasErrorCode(ErrorCode::kInvalidPickle));
  limits = {};
  limits.max_memo_index = 10;
  EXPECT_THAT(Read("\x80\x02Nq\x0a.", limits), HasErrorCode(ErrorCode::kInvalidPickle));
  EXPECT_THAT(Read("\x80\x02Nq\x09.", limits), IsOk());
  limits = {};
  limits.max_name_size = 4;
  EXPECT_THAT(Read("\x80\x02\x63torch\nx\n.", limits), HasErrorCode(ErrorCode::kInvalidPickle));
}

TEST(PickleReaderTest, GlobalCheckStopsAtTheFirstRefusal) {
  int seen = 0;
  const std::string bytes = Bytes("\x80\x02\x63os\nsystem\n\x63os\nremove\n\x86.");
  const absl::StatusOr<Pickle> pickle =
      ReadPickle(absl::Span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()), 0, {},
                 [&](const PickleGlobal& global) {
                   ++seen;
                   return global.name == "os.remove" ? absl::PermissionDeniedError("no") : absl::OkStatus();
                 });
  EXPECT_EQ(pickle.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(seen, 2);
}

}  // namespace
}  // namespace safetensors

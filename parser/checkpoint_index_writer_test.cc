#include "parser/checkpoint_index_writer.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "parser/checkpoint_index.h"
#include "parser/status_matchers.h"

namespace safetensors {
namespace {

using ::safetensors::testing::HasErrorCode;
using ::safetensors::testing::IsOkAndHolds;

// The expected texts are what Python 3.11 prints for
// json.dumps({"metadata": ..., "weight_map": ...}, indent=2).
TEST(SerializeCheckpointIndexTest, MatchesPythonJsonDumpIndent2) {
  EXPECT_THAT(SerializeCheckpointIndex({{"total_size", "96", true}, {"lm_head.weight", "embed", false}},
                                       {{"a", "model-00001-of-00002.safetensors"},
                                        {"b", "model-00002-of-00002.safetensors"}}),
              IsOkAndHolds(std::string(R"({
  "metadata": {
    "total_size": 96,
    "lm_head.weight": "embed"
  },
  "weight_map": {
    "a": "model-00001-of-00002.safetensors",
    "b": "model-00002-of-00002.safetensors"
  }
})")));
  EXPECT_THAT(SerializeCheckpointIndex({}, {}),
              IsOkAndHolds(std::string("{\n  \"metadata\": {},\n  \"weight_map\": {}\n}")));
}

TEST(SerializeCheckpointIndexTest, EscapesAsEnsureAsciiDoes) {
  // json.dumps("q\"\\\n\x01\x7f\u00e9\u20ac\U0001F600")
  EXPECT_THAT(SerializeCheckpointIndex({}, {{"q\"\\\n\x01\x7f\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80", "s.safetensors"}}),
              IsOkAndHolds(std::string(
                  "{\n  \"metadata\": {},\n  \"weight_map\": {\n    "
                  "\"q\\\"\\\\\\n\\u0001\\u007f\\u00e9\\u20ac\\ud83d\\ude00\": \"s.safetensors\"\n  }\n}")));
  EXPECT_THAT(SerializeCheckpointIndex({}, {{"\xff", "s.safetensors"}}),
              HasErrorCode(ErrorCode::kBadArgument));
  EXPECT_THAT(SerializeCheckpointIndex({{"n", "1x", true}}, {}), HasErrorCode(ErrorCode::kBadArgument));
}

TEST(SerializeCheckpointIndexTest, WhatWeWriteWeRead) {
  ASSERT_OK_AND_ASSIGN(std::string text,
                       SerializeCheckpointIndex({{"total_size", "12", true}, {"k", "\xC3\xA9", false}},
                                                {{"w\xE2\x82\xAC", "model-00001-of-00001.safetensors"}}));
  ASSERT_OK_AND_ASSIGN(CheckpointIndex index, ParseCheckpointIndex(text));
  EXPECT_EQ(index.total_size(), uint64_t{12});
  EXPECT_EQ(index.metadata()[1].value, "\xC3\xA9");
  EXPECT_EQ(index.weight_map()[0].tensor, "w\xE2\x82\xAC");
}

}  // namespace
}  // namespace safetensors

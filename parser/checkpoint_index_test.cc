#include "parser/checkpoint_index.h"

#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "parser/error.h"
#include "parser/status_matchers.h"
#include "testdata/test_files.h"

namespace safetensors {
namespace {

using ::safetensors::testing::HasErrorCode;
using ::safetensors::testing::ReadTestFile;
using ::safetensors::testing::ReadTsv;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kDir[] = "testdata/checkpoints/";

// Every case of testdata/checkpoints whose verdict the index alone decides
// gets that verdict here; the others (decided by the shards) parse.
TEST(CheckpointIndexTest, AgreesWithTheManifest) {
  const std::set<std::string> index_codes = {"InvalidShardName", "DuplicateKey",
                                             "InvalidSchema",    "InvalidJson",
                                             "InvalidUtf8",      "IndexTooLarge"};
  int checked = 0;
  for (const auto& row : ReadTsv(absl::StrCat(kDir, "manifest.tsv"))) {
    SCOPED_TRACE(row[0]);
    if (row[0] == "no_index_two_files") continue;  // no index to parse
    const std::string text = ReadTestFile(absl::StrCat(kDir, row[0], "/model.safetensors.index.json"));
    absl::StatusOr<CheckpointIndex> index = ParseCheckpointIndex(text);
    if (index_codes.count(row[1]) != 0) {
      EXPECT_THAT(index, HasErrorCode(*ErrorCodeFromName(row[1])));
    } else {
      EXPECT_OK(index);
    }
    ++checked;
  }
  EXPECT_GE(checked, 30);
}

TEST(CheckpointIndexTest, ReadsWhatHuggingfaceHubWrites) {
  ASSERT_OK_AND_ASSIGN(CheckpointIndex index, ParseCheckpointIndex(R"({
  "metadata": {
    "total_size": 40,
    "lm_head.weight": "embed.weight"
  },
  "weight_map": {
    "a": "model-00001-of-00002.safetensors",
    "b": "model-00001-of-00002.safetensors",
    "c": "model-00002-of-00002.safetensors"
  }
})"));
  EXPECT_EQ(index.total_size(), uint64_t{40});
  ASSERT_EQ(index.metadata().size(), 2u);
  EXPECT_EQ(index.metadata()[0].key, "total_size");
  EXPECT_EQ(index.metadata()[0].value, "40");
  EXPECT_TRUE(index.metadata()[0].is_number);
  EXPECT_EQ(index.metadata()[1].value, "embed.weight");
  EXPECT_FALSE(index.metadata()[1].is_number);
  EXPECT_THAT(index.shards(), ElementsAre("model-00001-of-00002.safetensors",
                                          "model-00002-of-00002.safetensors"));
  ASSERT_EQ(index.weight_map().size(), 3u);
  EXPECT_EQ(index.weight_map()[2].tensor, "c");
  EXPECT_EQ(index.weight_map()[2].shard, 1u);
  EXPECT_EQ(index.ShardOf("b"), uint32_t{0});
  EXPECT_EQ(index.ShardOf("missing"), std::nullopt);
}

TEST(CheckpointIndexTest, MetadataIsOptionalAndTotalSizeOnlyWhenAnInteger) {
  ASSERT_OK_AND_ASSIGN(CheckpointIndex bare, ParseCheckpointIndex(R"({"weight_map": {}})"));
  EXPECT_TRUE(bare.metadata().empty());
  EXPECT_EQ(bare.total_size(), std::nullopt);
  ASSERT_OK_AND_ASSIGN(CheckpointIndex null_metadata,
                       ParseCheckpointIndex(R"({"metadata": null, "weight_map": {}})"));
  EXPECT_TRUE(null_metadata.metadata().empty());
  ASSERT_OK_AND_ASSIGN(CheckpointIndex fractional,
                       ParseCheckpointIndex(R"({"metadata": {"total_size": 1.5}, "weight_map": {}})"));
  EXPECT_EQ(fractional.total_size(), std::nullopt);
  ASSERT_OK_AND_ASSIGN(
      CheckpointIndex huge,
      ParseCheckpointIndex(R"({"metadata": {"total_size": 18446744073709551616}, "weight_map": {}})"));
  EXPECT_EQ(huge.total_size(), std::nullopt);
  EXPECT_THAT(ParseCheckpointIndex(R"({"metadata": {"x": true}, "weight_map": {}})"),
              HasErrorCode(ErrorCode::kInvalidSchema));
  EXPECT_THAT(ParseCheckpointIndex(R"({"metadata": {"x": 1e999}, "weight_map": {}})"),
              HasErrorCode(ErrorCode::kInvalidJson));
}

TEST(CheckpointIndexTest, ErrorsNameTheTensorTheShardAndTheOffset) {
  absl::Status bad = ParseCheckpointIndex(R"({"weight_map": {"w": "../../.ssh/id_rsa"}})").status();
  EXPECT_THAT(bad, HasErrorCode(ErrorCode::kInvalidShardName));
  EXPECT_THAT(bad.message(), HasSubstr("tensor \"w\" (byte 21)"));
  EXPECT_THAT(bad.message(), HasSubstr("\"../../.ssh/id_rsa\""));
  absl::Status dup =
      ParseCheckpointIndex(R"({"weight_map": {"w": "a.safetensors", "w": "b.safetensors"}})").status();
  EXPECT_THAT(dup, HasErrorCode(ErrorCode::kDuplicateKey));
  EXPECT_THAT(dup.message(), HasSubstr("duplicate tensor \"w\" at byte 38"));
}

TEST(CheckpointIndexTest, SizeLimitIsCheckedFirst) {
  IndexOptions options;
  options.max_index_size = 10;
  EXPECT_THAT(ParseCheckpointIndex(R"({"weight_map": {}})", options),
              HasErrorCode(ErrorCode::kIndexTooLarge));
  EXPECT_THAT(ParseCheckpointIndex("\xff\xff", options), HasErrorCode(ErrorCode::kInvalidUtf8));
}

TEST(CheckShardNameTest, OnlyPlainSafetensorsFileNames) {
  EXPECT_OK(CheckShardName("model-00001-of-00002.safetensors"));
  EXPECT_OK(CheckShardName("model.fp16.safetensors"));
  EXPECT_OK(CheckShardName("x..y.safetensors"));  // '..' inside a name is no component
  EXPECT_OK(CheckShardName("\xC3\xA9.safetensors"));
  for (const std::string& bad :
       {std::string(""), std::string("/etc/passwd"), std::string("../a.safetensors"),
        std::string("a/b.safetensors"), std::string("a\\b.safetensors"), std::string(".."),
        std::string("."), std::string("C:a.safetensors"), std::string("a.bin"),
        std::string(".safetensors"), std::string("a.safetensors\n"),
        std::string("a\0.safetensors", 14), std::string(250, 'a') + ".safetensors",
        std::string("a.SAFETENSORS")}) {
    EXPECT_THAT(CheckShardName(bad), HasErrorCode(ErrorCode::kInvalidShardName)) << bad;
  }
}

}  // namespace
}  // namespace safetensors

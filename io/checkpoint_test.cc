#include "io/checkpoint.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "parser/checkpoint_index_writer.h"
#include "parser/dtype.h"
#include "parser/error.h"
#include "parser/header_writer.h"
#include "parser/status_matchers.h"
#include "io/test_util.h"
#include "testdata/test_files.h"

namespace safetensors {
namespace {

namespace fs = std::filesystem;
using ::safetensors::testing::HasErrorCode;
using ::safetensors::testing::ReadTestFile;
using ::safetensors::testing::ReadTsv;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr char kDir[] = "testdata/checkpoints/";
constexpr char kIndex[] = "model.safetensors.index.json";
constexpr char kShard1[] = "model-00001-of-00002.safetensors";
constexpr char kShard2[] = "model-00002-of-00002.safetensors";

// Every case of testdata/checkpoints gets its manifest verdict, opened as a
// directory and (where there is one) through its index file.
TEST(CheckpointTest, EveryCaseGetsItsManifestVerdict) {
  int cases = 0;
  for (const auto& row : ReadTsv(absl::StrCat(kDir, "manifest.tsv"))) {
    SCOPED_TRACE(row[0]);
    ++cases;
    const std::string dir = absl::StrCat(kDir, row[0]);
    std::vector<std::string> paths = {dir};
    if (fs::exists(dir + "/" + kIndex)) paths.push_back(dir + "/" + kIndex);
    for (const std::string& path : paths) {
      absl::StatusOr<Checkpoint> checkpoint = Checkpoint::Open(path);
      if (row[1] == "OK") {
        EXPECT_OK(checkpoint) << path;
      } else {
        EXPECT_THAT(checkpoint, HasErrorCode(*ErrorCodeFromName(row[1]))) << path;
      }
    }
  }
  EXPECT_GE(cases, 35);
}

TEST(CheckpointTest, ShardsTensorsAndOrder) {
  ASSERT_OK_AND_ASSIGN(Checkpoint c, Checkpoint::Open(absl::StrCat(kDir, "valid_two_shards")));
  EXPECT_THAT(c.index_path(), HasSubstr(kIndex));
  ASSERT_EQ(c.shards().size(), 2u);
  EXPECT_EQ(c.shards()[0].name, kShard1);
  EXPECT_EQ(c.num_tensors(), 3u);
  EXPECT_EQ(c.tensor_bytes(), 40u);
  EXPECT_THAT(c.warnings(), IsEmpty());
  std::optional<Checkpoint::Location> where = c.Find("c");
  ASSERT_TRUE(where.has_value());
  EXPECT_EQ(where->shard, 1u);
  EXPECT_EQ(where->info->name, "c");
  EXPECT_FALSE(c.Find("nope").has_value());
  std::vector<std::string> order;
  for (const Checkpoint::Location& l : c.InShardOrder()) order.emplace_back(l.info->name);
  EXPECT_THAT(order, ElementsAre("a", "b", "c"));
}

TEST(CheckpointTest, ErrorsNameTheShardAndTheTensor) {
  absl::Status missing = Checkpoint::Open(absl::StrCat(kDir, "missing_shard")).status();
  EXPECT_THAT(missing.message(), HasSubstr(absl::StrCat("shard \"", kShard2, "\"")));
  absl::Status invalid = Checkpoint::Open(absl::StrCat(kDir, "invalid_shard")).status();
  EXPECT_THAT(invalid.message(), HasSubstr(absl::StrCat("shard \"", kShard2, "\": file is 3 bytes")));
  absl::Status wrong = Checkpoint::Open(absl::StrCat(kDir, "tensor_in_wrong_shard")).status();
  EXPECT_THAT(wrong.message(), HasSubstr("tensor \"c\" in shard \"model-00001-of-00002"));
  absl::Status twice = Checkpoint::Open(absl::StrCat(kDir, "tensor_in_two_shards")).status();
  EXPECT_THAT(twice.message(), HasSubstr("tensor \"a\" is in shard"));
  absl::Status unlisted = Checkpoint::Open(absl::StrCat(kDir, "unlisted_tensor")).status();
  EXPECT_THAT(unlisted.message(), HasSubstr("holds tensor \"b\", which weight_map does not list"));
  absl::Status traversal = Checkpoint::Open(absl::StrCat(kDir, "name_dotdot")).status();
  EXPECT_THAT(traversal.message(), HasSubstr("\"../model-00001-of-00002.safetensors\""));
}

TEST(CheckpointTest, UnlistedTensorsCanBeLeftOut) {
  CheckpointOptions options;
  options.allow_unlisted_tensors = true;
  ASSERT_OK_AND_ASSIGN(Checkpoint c, Checkpoint::Open(absl::StrCat(kDir, "unlisted_tensor"), options));
  EXPECT_EQ(c.num_tensors(), 2u);
  EXPECT_FALSE(c.Find("b").has_value());
  EXPECT_EQ(c.InShardOrder().size(), 2u);
  // total_size (40) counts b's bytes, which are left out: a warning.
  EXPECT_THAT(c.warnings(), ElementsAre(HasSubstr("total_size is 40 but the shards hold 32")));
}

TEST(CheckpointTest, SingleFilesAndDirectoriesOfOne) {
  const std::string shard = absl::StrCat(kDir, "valid_two_shards/", kShard1);
  ASSERT_OK_AND_ASSIGN(Checkpoint file, Checkpoint::Open(shard));
  EXPECT_FALSE(file.index().has_value());
  EXPECT_EQ(file.shards()[0].name, kShard1);
  EXPECT_EQ(file.num_tensors(), 2u);

  const std::string dir = ::testing::TempDir() + "/one_file";
  fs::remove_all(dir);
  fs::create_directories(dir);
  fs::copy_file(shard, dir + "/weights.safetensors");
  ASSERT_OK_AND_ASSIGN(Checkpoint only, Checkpoint::Open(dir));
  EXPECT_EQ(only.shards()[0].name, "weights.safetensors");
  // model.safetensors wins over any other file.
  fs::copy_file(absl::StrCat(kDir, "valid_two_shards/", kShard2), dir + "/model.safetensors");
  ASSERT_OK_AND_ASSIGN(Checkpoint named, Checkpoint::Open(dir));
  EXPECT_EQ(named.shards()[0].name, "model.safetensors");

  EXPECT_THAT(Checkpoint::Open(dir + "/missing"), HasErrorCode(ErrorCode::kIoError));
  CheckpointOptions bad_pattern;
  bad_pattern.filename_pattern = "model.safetensors";
  EXPECT_THAT(Checkpoint::Open(dir, bad_pattern), HasErrorCode(ErrorCode::kBadArgument));
}

// A FIFO, a socket, a device or a symlink loop as a checkpoint's file, shard
// or index is refused at once, saying what it is (a FIFO never blocks the
// open), and a shard's failure names the shard.
TEST(CheckpointTest, SpecialFilesAreRefusedWithoutBlocking) {
  using testing::SpecialFile;
  using testing::SpecialPlace;
  for (SpecialFile kind : testing::AllSpecialFiles()) {
    for (SpecialPlace place : {SpecialPlace::kFile, SpecialPlace::kShard, SpecialPlace::kIndex}) {
      const std::string what = absl::StrCat(testing::SpecialFileName(kind), " as the ",
                                            testing::SpecialPlaceName(place));
      SCOPED_TRACE(what);
      const std::string path = testing::MakeCheckpointWith(
          kind, place, absl::StrCat(::testing::TempDir(), "/special_", static_cast<int>(kind), "_",
                                    static_cast<int>(place)));
      testing::Watchdog watchdog("Checkpoint::Open of a " + what);
      absl::StatusOr<Checkpoint> checkpoint = Checkpoint::Open(path);
      EXPECT_THAT(checkpoint, HasErrorCode(kind == SpecialFile::kSymlinkLoop
                                               ? ErrorCode::kIoError
                                               : ErrorCode::kNotRegularFile));
      EXPECT_THAT(std::string(checkpoint.status().message()),
                  HasSubstr(testing::SpecialFileMessage(kind)));
      if (place == SpecialPlace::kShard) {
        EXPECT_THAT(std::string(checkpoint.status().message()),
                    HasSubstr(absl::StrCat("shard \"", kShard2, "\"")));
      }
      if (place == SpecialPlace::kIndex) {
        // The index named directly is refused alike.
        EXPECT_THAT(Checkpoint::Open(path + "/" + kIndex), HasErrorCode(*GetErrorCode(checkpoint.status())));
      }
    }
  }
}

// The hub cache: snapshots/<revision>/ holds symlinks into blobs/, named by
// hash. Only the names in the index are constrained, so this loads.
TEST(CheckpointTest, HubCacheLayoutOfSymlinksLoads) {
  const std::string root = ::testing::TempDir() + "/hub_cache";
  fs::remove_all(root);
  fs::create_directories(root + "/blobs");
  fs::create_directories(root + "/snapshots/0123abcd");
  const std::string source = absl::StrCat(kDir, "valid_two_shards/");
  int blob = 0;
  for (const char* name : {kIndex, kShard1, kShard2}) {
    const std::string target = absl::StrCat(root, "/blobs/", "f00d", blob++);
    fs::copy_file(source + name, target);
    fs::create_symlink(absl::StrCat("../../blobs/f00d", blob - 1),
                       absl::StrCat(root, "/snapshots/0123abcd/", name));
  }
  ASSERT_OK_AND_ASSIGN(Checkpoint c, Checkpoint::Open(root + "/snapshots/0123abcd"));
  EXPECT_EQ(c.num_tensors(), 3u);
  ASSERT_OK_AND_ASSIGN(Checkpoint via_index,
                       Checkpoint::Open(absl::StrCat(root, "/snapshots/0123abcd/", kIndex)));
  EXPECT_EQ(via_index.shards()[1].name, kShard2);
}

// Writes a checkpoint of `shards` shards of `per_shard` one-byte tensors
// into `dir`, and an index listing `weight_map` (tensor, shard number).
void WriteCheckpoint(const std::string& dir, int shards, int per_shard,
                     const std::vector<std::pair<std::string, int>>& weight_map) {
  fs::remove_all(dir);
  fs::create_directories(dir);
  auto shard_name = [&](int s) {
    return absl::StrCat("model-", s + 1, "-of-", shards, ".safetensors");
  };
  for (int s = 0; s < shards; ++s) {
    std::vector<std::string> names;
    for (int t = 0; t < per_shard; ++t) names.push_back(absl::StrCat("s", s, ".t", t));
    std::vector<TensorDescription> tensors;
    for (const std::string& name : names) tensors.push_back({name, Dtype::kU8, {1}});
    absl::StatusOr<SerializedHeader> header = SerializeHeader(tensors, std::nullopt);
    ASSERT_TRUE(header.ok()) << header.status();
    std::ofstream(dir + "/" + shard_name(s), std::ios::binary)
        << header->bytes << std::string(static_cast<size_t>(per_shard), 'x');
  }
  std::vector<std::pair<std::string, std::string>> entries;
  for (const auto& [tensor, s] : weight_map) entries.emplace_back(tensor, shard_name(s));
  absl::StatusOr<std::string> index = SerializeCheckpointIndex({}, entries);
  ASSERT_TRUE(index.ok()) << index.status();
  std::ofstream(dir + "/" + kIndex, std::ios::binary) << *index;
}

// Tens of thousands of entries are looked up on several threads, in runs; an
// entry in the wrong shard anywhere in weight_map is still found, and the
// first in weight_map order is the one reported, whatever the order of the
// index relative to the shards.
TEST(CheckpointTest, ManyEntriesInAnyOrderAreEachChecked) {
  constexpr int kShards = 3, kPerShard = 5000;
  std::vector<std::pair<std::string, int>> listed;
  for (int s = 0; s < kShards; ++s) {
    for (int t = 0; t < kPerShard; ++t) listed.emplace_back(absl::StrCat("s", s, ".t", t), s);
  }
  std::mt19937 random(5);
  std::shuffle(listed.begin() + kPerShard, listed.end(), random);  // shard 0 in order
  const std::string dir = ::testing::TempDir() + "/many_entries";
  WriteCheckpoint(dir, kShards, kPerShard, listed);
  ASSERT_OK_AND_ASSIGN(Checkpoint good, Checkpoint::Open(dir));
  EXPECT_EQ(good.num_tensors(), static_cast<size_t>(kShards * kPerShard));

  for (size_t wrong : {size_t{3}, size_t{9000}, listed.size() - 1}) {
    std::vector<std::pair<std::string, int>> moved = listed;
    moved[wrong].second = (moved[wrong].second + 1) % kShards;
    WriteCheckpoint(dir, kShards, kPerShard, moved);
    absl::StatusOr<Checkpoint> bad = Checkpoint::Open(dir);
    EXPECT_THAT(bad, HasErrorCode(ErrorCode::kTensorNotInShard)) << wrong;
    EXPECT_THAT(bad.status().message(),
                HasSubstr(absl::StrCat("tensor \"", listed[wrong].first, "\" in shard")));
  }
  // Two wrong entries: the earlier in weight_map is reported.
  std::vector<std::pair<std::string, int>> two = listed;
  two[12000].second = (two[12000].second + 1) % kShards;
  two[7000].second = (two[7000].second + 1) % kShards;
  WriteCheckpoint(dir, kShards, kPerShard, two);
  EXPECT_THAT(Checkpoint::Open(dir).status().message(),
              HasSubstr(absl::StrCat("tensor \"", listed[7000].first, "\" in shard")));
}

TEST(CheckpointTest, IndexSizeLimitIsCheckedBeforeReading) {
  CheckpointOptions options;
  options.index.max_index_size = 100;
  EXPECT_THAT(Checkpoint::Open(absl::StrCat(kDir, "valid_two_shards"), options),
              HasErrorCode(ErrorCode::kIndexTooLarge));
}

TEST(FormatFilenamePatternTest, ReplacesSuffix) {
  EXPECT_THAT(FormatFilenamePattern("model{suffix}.safetensors", "-00001-of-00002"),
              safetensors::testing::IsOkAndHolds(std::string("model-00001-of-00002.safetensors")));
  EXPECT_THAT(FormatFilenamePattern("x.safetensors", ""), HasErrorCode(ErrorCode::kBadArgument));
}

}  // namespace
}  // namespace safetensors

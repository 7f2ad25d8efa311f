#include "io/pickle_file.h"

#include <filesystem>
#include <functional>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "io/test_util.h"
#include "parser/error.h"
#include "parser/status_matchers.h"
#include "testdata/test_files.h"

namespace safetensors {
namespace {

using ::safetensors::testing::AllSpecialFiles;
using ::safetensors::testing::HasErrorCode;
using ::safetensors::testing::IsOk;
using ::safetensors::testing::IsOkAndHolds;
using ::safetensors::testing::MakeSpecialFile;
using ::safetensors::testing::NewTempDir;
using ::safetensors::testing::ReadTestFile;
using ::safetensors::testing::SpecialFile;
using ::safetensors::testing::SpecialFileName;
using ::safetensors::testing::Watchdog;
using ::testing::HasSubstr;

TEST(PickleFileTest, OpensAndReadsATorchSaveFile) {
  const absl::StatusOr<PickleCheckpointFile> f = OpenPickleCheckpoint("testdata/pickle/views.pt", {});
  ASSERT_THAT(f, IsOk());
  EXPECT_EQ(f->mapping->bytes().size(), f->file->size());
  EXPECT_EQ(f->table.tensors.size(), 9u);
  EXPECT_THAT(IsPickleCheckpointFile("testdata/pickle/views.pt"), IsOkAndHolds(true));
  EXPECT_THAT(IsPickleCheckpointFile("testdata/pickle/legacy.pt"), IsOkAndHolds(true));
  // A pickle without torch's magic number, a safetensors file and an empty
  // file are not torch.save files.
  EXPECT_THAT(IsPickleCheckpointFile("testdata/pickle/plain_pickle.pt"), IsOkAndHolds(false));
  const std::string empty = testing::WriteTempFile("empty.pt", "");
  EXPECT_THAT(IsPickleCheckpointFile(empty), IsOkAndHolds(false));
}

TEST(PickleFileTest, RefusalsNameThePath) {
  const absl::StatusOr<PickleCheckpointFile> f = OpenPickleCheckpoint("testdata/pickle/os_system.pt", {});
  EXPECT_THAT(f, HasErrorCode(ErrorCode::kRefusedGlobal));
  EXPECT_THAT(std::string(f.status().message()), HasSubstr("global \"os.system\" at byte 66"));
}

TEST(PickleFileTest, RefusesWhatIsNotARegularFileWithoutBlocking) {
  const std::string dir = NewTempDir("pickle_special");
  for (SpecialFile kind : AllSpecialFiles()) {
    SCOPED_TRACE(SpecialFileName(kind));
    const std::string path = dir + "/pytorch_model.bin." + std::to_string(static_cast<int>(kind));
    MakeSpecialFile(kind, path);
    Watchdog watchdog(std::string("OpenPickleCheckpoint of a ") + SpecialFileName(kind));
    const ErrorCode expected =
        kind == SpecialFile::kSymlinkLoop ? ErrorCode::kIoError : ErrorCode::kNotRegularFile;
    EXPECT_THAT(OpenPickleCheckpoint(path, {}), HasErrorCode(expected));
    EXPECT_THAT(IsPickleCheckpointFile(path), HasErrorCode(expected));
  }
}

TEST(PickleFileTest, ResolvesPathsAsTransformersDoes) {
  const std::string sharded = "testdata/pickle/sharded";
  const PickleCheckpointPath dir = ResolvePickleCheckpointPath(sharded);
  EXPECT_EQ(dir.path, sharded + "/pytorch_model.bin.index.json");
  EXPECT_TRUE(dir.sharded);
  const PickleCheckpointPath index = ResolvePickleCheckpointPath(dir.path);
  EXPECT_EQ(index.path, dir.path);
  EXPECT_TRUE(index.sharded);
  const PickleCheckpointPath file = ResolvePickleCheckpointPath("testdata/pickle/views.pt");
  EXPECT_EQ(file.path, "testdata/pickle/views.pt");
  EXPECT_FALSE(file.sharded);
  // A directory without an index means its pytorch_model.bin.
  const std::string single = NewTempDir("pickle_single");
  const PickleCheckpointPath bin = ResolvePickleCheckpointPath(single);
  EXPECT_EQ(bin.path, single + "/pytorch_model.bin");
  EXPECT_FALSE(bin.sharded);
}

TEST(PickleFileTest, OpensAShardedCheckpointWhole) {
  const absl::StatusOr<ShardedPickleCheckpoint> c =
      OpenShardedPickleCheckpoint("testdata/pickle/sharded/pytorch_model.bin.index.json", {});
  ASSERT_THAT(c, IsOk());
  EXPECT_EQ(c->directory, "testdata/pickle/sharded/");
  ASSERT_EQ(c->shards.size(), 2u);
  ASSERT_EQ(c->index.shards().size(), 2u);
  size_t tensors = 0;
  for (size_t s = 0; s < c->shards.size(); ++s) {
    for (const PickleTensor& t : c->shards[s].table.tensors) {
      EXPECT_EQ(c->index.ShardOf(t.name), s) << t.name;
      ++tensors;
    }
  }
  EXPECT_EQ(tensors, c->index.weight_map().size());
}

// A copy of testdata/pickle/sharded in `name` with shard i's bytes from the
// shard `from[i]` and the index's text through `edit`.
std::string ShardedCopy(const std::string& name, const std::string from[2],
                        const std::function<std::string(std::string)>& edit = [](std::string s) { return s; }) {
  const std::string dir = NewTempDir(name);
  const std::string src = "testdata/pickle/sharded/";
  testing::WriteTempFile(name + "/pytorch_model.bin.index.json",
                         edit(ReadTestFile(src + "pytorch_model.bin.index.json")));
  const char* shards[2] = {"pytorch_model-00001-of-00002.bin", "pytorch_model-00002-of-00002.bin"};
  for (int i = 0; i < 2; ++i) testing::WriteTempFile(name + "/" + shards[i], ReadTestFile(src + from[i]));
  return dir + "/pytorch_model.bin.index.json";
}

TEST(PickleFileTest, ShardsMustHoldExactlyWhatTheIndexSays) {
  const std::string first = "pytorch_model-00001-of-00002.bin", second = "pytorch_model-00002-of-00002.bin";
  // (The index names shard 2 first: weight_map's first tensor is there.)
  {  // the shards' contents swapped
    const std::string from[2] = {second, first};
    const absl::StatusOr<ShardedPickleCheckpoint> c = OpenShardedPickleCheckpoint(ShardedCopy("swapped", from), {});
    EXPECT_THAT(c, HasErrorCode(ErrorCode::kUnlistedTensor));
    EXPECT_THAT(std::string(c.status().message()),
                HasSubstr("shard \"pytorch_model-00002-of-00002.bin\" holds tensor"));
    EXPECT_THAT(std::string(c.status().message()),
                HasSubstr("which weight_map puts in shard \"pytorch_model-00001-of-00002.bin\""));
  }
  {  // both shards hold shard 2's tensors
    const std::string from[2] = {second, second};
    EXPECT_THAT(OpenShardedPickleCheckpoint(ShardedCopy("twice", from), {}),
                HasErrorCode(ErrorCode::kTensorInTwoShards));
  }
  {  // weight_map lists a tensor no shard holds
    const std::string from[2] = {first, second};
    const absl::StatusOr<ShardedPickleCheckpoint> c =
        OpenShardedPickleCheckpoint(ShardedCopy("ghost", from, [&](std::string index) {
                                      const size_t map = index.find("\"weight_map\": {");
                                      EXPECT_NE(map, std::string::npos);
                                      return index.insert(map + 15, "\"ghost.weight\": \"" + first + "\", ");
                                    }), {});
    EXPECT_THAT(c, HasErrorCode(ErrorCode::kTensorNotInShard));
    EXPECT_THAT(std::string(c.status().message()), HasSubstr("\"ghost.weight\""));
  }
  {  // a shard refused names the shard
    const std::string from[2] = {first, second};
    const std::string index = ShardedCopy("refused_shard", from);
    const std::string dir = index.substr(0, index.rfind('/'));
    testing::WriteTempFile("refused_shard/" + second, ReadTestFile("testdata/pickle/os_system.pt"));
    const absl::StatusOr<ShardedPickleCheckpoint> c = OpenShardedPickleCheckpoint(index, {});
    EXPECT_THAT(c, HasErrorCode(ErrorCode::kRefusedGlobal));
    EXPECT_THAT(std::string(c.status().message()), HasSubstr("shard \"" + second + "\""));
    std::filesystem::remove(dir + "/" + second);
    EXPECT_THAT(OpenShardedPickleCheckpoint(index, {}), HasErrorCode(ErrorCode::kIoError));
  }
}

}  // namespace
}  // namespace safetensors

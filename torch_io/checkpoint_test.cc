#include "torch_io/checkpoint.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include <ATen/ops/arange.h>
#include <ATen/ops/equal.h>
#include <ATen/ops/zeros.h>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "io/test_util.h"
#include "parser/error.h"
#include "parser/status_matchers.h"
#include "testdata/test_files.h"
#include "torch_io/load.h"
#include "torch_io/safe_open.h"
#include "torch_io/testing/shaped_module.h"
#include "torch_io/testing/tiny_lm.h"

namespace safetensors {
namespace {

namespace fs = std::filesystem;
using ::safetensors::testing::HasErrorCode;
using ::safetensors::testing::NewTempDir;
using ::safetensors::testing::ReadTsv;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

std::set<std::string> Files(const std::string& dir) {
  std::set<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.insert(e.path().filename());
  return names;
}

at::Tensor Range(int64_t n, at::ScalarType type = at::kFloat) {
  return at::arange(n, at::TensorOptions().dtype(at::kFloat)).to(type);
}

// Three tensors of 400 bytes, split 2 + 1 by a 1000-byte limit.
TensorDict ThreeTensors(float offset = 0) {
  TensorDict d;
  d.insert("layers.0.weight", Range(100).add(offset));
  d.insert("layers.1.weight", Range(100).add(offset + 1));
  d.insert("layers.2.weight", Range(100).add(offset + 2));
  return d;
}

SaveCheckpointOptions Sharded(uint64_t max_shard_size = 1000) {
  SaveCheckpointOptions options;
  options.max_shard_size = max_shard_size;
  return options;
}

TEST(CheckpointTest, SaveThenOpenLazily) {
  const std::string dir = NewTempDir("lazy");
  ASSERT_OK(save_torch_state_dict(ThreeTensors(), dir, Sharded()));
  EXPECT_THAT(Files(dir), UnorderedElementsAre("model-00001-of-00002.safetensors",
                                               "model-00002-of-00002.safetensors",
                                               "model.safetensors.index.json"));
  for (Backend backend : {Backend::kMmap, Backend::kPread}) {
    LoadOptions options;
    options.backend = backend;
    ASSERT_OK_AND_ASSIGN(CheckpointReader f, open_checkpoint(dir, "cpu", options));
    EXPECT_THAT(f.keys(), ElementsAre("layers.0.weight", "layers.1.weight", "layers.2.weight"));
    EXPECT_EQ(f.checkpoint().shards().size(), 2u);
    EXPECT_THAT(f.get_shard("layers.2.weight"),
                safetensors::testing::IsOkAndHolds(std::string("model-00002-of-00002.safetensors")));
    ASSERT_TRUE(f.metadata().has_value());
    EXPECT_THAT(*f.metadata(), ElementsAre(std::make_pair(std::string("total_size"), std::string("1200"))));
    ASSERT_OK_AND_ASSIGN(at::Tensor t, f.get_tensor("layers.2.weight"));
    EXPECT_TRUE(at::equal(t, Range(100).add(2)));
    ASSERT_OK_AND_ASSIGN(TensorSlice s, f.get_slice("layers.1.weight"));
    ASSERT_OK_AND_ASSIGN(at::Tensor part, s.get({SliceIndex::Range(10, 13)}));
    EXPECT_TRUE(at::equal(part, Range(100).add(1).slice(0, 10, 13)));
    EXPECT_THAT(f.get_tensor("nope"), HasErrorCode(ErrorCode::kTensorNotFound));
    ASSERT_OK_AND_ASSIGN(TensorDict all, f.get_tensors());
    EXPECT_EQ(all.size(), 3u);
  }
}

TEST(CheckpointTest, FilterSelectsAcrossShards) {
  const std::string dir = NewTempDir("filter");
  ASSERT_OK(save_torch_state_dict(ThreeTensors(), dir, Sharded()));
  LoadOptions options;
  options.tensor_filter = "[02]\\.weight$";
  ASSERT_OK_AND_ASSIGN(TensorDict some, load_checkpoint(dir, "cpu", options));
  EXPECT_THAT(some.keys(), ElementsAre("layers.0.weight", "layers.2.weight"));
  ASSERT_OK_AND_ASSIGN(CheckpointReader f, open_checkpoint(dir, "cpu", options));
  EXPECT_THAT(f.get_tensor("layers.1.weight"), HasErrorCode(ErrorCode::kTensorNotFound));
  EXPECT_THAT(f.get_shard("layers.1.weight"), HasErrorCode(ErrorCode::kTensorNotFound));
  options.tensor_filter = "(";
  EXPECT_THAT(open_checkpoint(dir, "cpu", options), HasErrorCode(ErrorCode::kBadArgument));
}

TEST(CheckpointTest, SingleFilesAreCheckpointsToo) {
  const std::string dir = NewTempDir("single");
  ASSERT_OK(save_torch_state_dict(ThreeTensors(), dir));
  EXPECT_THAT(Files(dir), ElementsAre("model.safetensors"));
  ASSERT_OK_AND_ASSIGN(CheckpointReader f, open_checkpoint(dir + "/model.safetensors"));
  ASSERT_TRUE(f.metadata().has_value());
  EXPECT_THAT(*f.metadata(), ElementsAre(std::make_pair(std::string("format"), std::string("pt"))));
  ASSERT_OK_AND_ASSIGN(TensorDict same, load_file(dir + "/model.safetensors"));
  ASSERT_OK_AND_ASSIGN(TensorDict via_checkpoint, load_checkpoint(dir));
  EXPECT_EQ(same.keys(), via_checkpoint.keys());
}

TEST(CheckpointTest, LoadTorchModelIntoAModelAcrossShards) {
  auto saved = std::make_shared<testing::TinyLM>();
  const std::string dir = NewTempDir("model");
  ASSERT_OK(save_torch_model(*saved, dir, Sharded(300)));
  EXPECT_GT(Files(dir).size(), 3u);
  auto loaded = std::make_shared<testing::TinyLM>();
  {
    torch::NoGradGuard no_grad;
    for (auto& p : loaded->parameters()) p.zero_();
  }
  ASSERT_OK_AND_ASSIGN(LoadModelResult result, load_torch_model(*loaded, dir, /*strict=*/true));
  EXPECT_TRUE(result.missing.empty());
  EXPECT_TRUE(result.unexpected.empty());
  const auto a = saved->named_parameters(), b = loaded->named_parameters();
  for (const auto& item : a) EXPECT_TRUE(at::equal(item.value(), b[item.key()])) << item.key();
  // Tied weights share memory after the load, as in the saved model.
  EXPECT_EQ(loaded->head->weight.data_ptr(), loaded->embed->weight.data_ptr());

  // strict=false reports what does not match; strict=true refuses it.
  auto other = std::make_shared<torch::nn::Module>();
  other->register_buffer("unrelated", Range(3));
  ASSERT_OK_AND_ASSIGN(LoadModelResult loose, load_torch_model(*other, dir));
  EXPECT_THAT(loose.missing, ElementsAre("unrelated"));
  EXPECT_FALSE(loose.unexpected.empty());
  EXPECT_THAT(load_torch_model(*other, dir, /*strict=*/true), HasErrorCode(ErrorCode::kBadArgument));
}

TEST(CheckpointTest, EveryManifestCaseGetsItsVerdictThroughTheTorchApi) {
  for (const auto& row : ReadTsv("testdata/checkpoints/manifest.tsv")) {
    SCOPED_TRACE(row[0]);
    const std::string dir = "testdata/checkpoints/" + row[0];
    absl::StatusOr<TensorDict> loaded = load_checkpoint(dir);
    auto model = std::make_shared<torch::nn::Module>();
    absl::StatusOr<LoadModelResult> into_model = load_torch_model(*model, dir);
    if (row[1] == "OK") {
      ASSERT_OK(loaded);
      EXPECT_OK(into_model);
      // Read straight into a model shaped like the checkpoint, it ends as
      // load_checkpoint and a copy_ of each tensor leave it.
      std::shared_ptr<torch::nn::Module> ours = testing::ModuleShapedLike(*loaded, {}, 0x5A);
      std::shared_ptr<torch::nn::Module> expected = testing::ModuleShapedLike(*loaded, {}, 0x5A);
      ASSERT_NE(ours, nullptr);
      ASSERT_TRUE(testing::LoadInTwoPasses(*expected, *loaded));
      EXPECT_OK(load_torch_model(*ours, dir, /*strict=*/true));
      testing::ExpectSameState(*ours, *expected);
    } else {
      EXPECT_THAT(loaded, HasErrorCode(*ErrorCodeFromName(row[1])));
      EXPECT_THAT(into_model, HasErrorCode(*ErrorCodeFromName(row[1])));
    }
  }
}

TEST(CheckpointTest, ResavingReplacesTheWholeCheckpoint) {
  const std::string dir = NewTempDir("resave");
  ASSERT_OK(save_torch_state_dict(ThreeTensors(), dir, Sharded(500)));  // 3 shards
  EXPECT_EQ(Files(dir).size(), 4u);
  ASSERT_OK(save_torch_state_dict(ThreeTensors(10), dir, Sharded(1000)));  // 2 shards
  EXPECT_THAT(Files(dir), UnorderedElementsAre("model-00001-of-00002.safetensors",
                                               "model-00002-of-00002.safetensors",
                                               "model.safetensors.index.json"));
  ASSERT_OK_AND_ASSIGN(TensorDict now, load_checkpoint(dir));
  EXPECT_TRUE(at::equal(now["layers.0.weight"], Range(100).add(10)));
  // Back to one file: the index and the shards go.
  ASSERT_OK(save_torch_state_dict(ThreeTensors(20), dir));
  EXPECT_THAT(Files(dir), ElementsAre("model.safetensors"));
  // Files that only look alike stay.
  std::ofstream(dir + "/model.safetensors.backup") << "mine";
  std::ofstream(dir + "/other.safetensors") << "mine too";
  ASSERT_OK(save_torch_state_dict(ThreeTensors(), dir, Sharded()));
  EXPECT_TRUE(fs::exists(dir + "/model.safetensors.backup"));
  EXPECT_TRUE(fs::exists(dir + "/other.safetensors"));
  EXPECT_FALSE(fs::exists(dir + "/model.safetensors"));
}

TEST(CheckpointTest, AFailedSaveLeavesNoNewFileAndTheOldCheckpointIntact) {
  const std::string dir = NewTempDir("failed");
  ASSERT_OK(save_torch_state_dict(ThreeTensors(), dir, Sharded()));
  const std::set<std::string> before = Files(dir);
  // The last tensor (in the second shard, written after the first) cannot be
  // saved: the first shard's temporary goes too, and nothing changes.
  TensorDict bad = ThreeTensors(5);
  bad.insert("complex128", at::zeros({2}, at::TensorOptions().dtype(at::kComplexDouble)));
  EXPECT_THAT(save_torch_state_dict(bad, dir, Sharded()), HasErrorCode(ErrorCode::kUnsupportedDtype));
  EXPECT_EQ(Files(dir), before);
  ASSERT_OK_AND_ASSIGN(TensorDict still, load_checkpoint(dir));
  EXPECT_TRUE(at::equal(still["layers.0.weight"], Range(100)));
  EXPECT_THAT(save_torch_state_dict(ThreeTensors(), dir + "/missing"), HasErrorCode(ErrorCode::kIoError));
  SaveCheckpointOptions no_suffix;
  no_suffix.filename_pattern = "model.safetensors";
  EXPECT_THAT(save_torch_state_dict(ThreeTensors(), dir, no_suffix),
              HasErrorCode(ErrorCode::kBadArgument));
  EXPECT_EQ(Files(dir), before);
}

// Opens the two-shard checkpoint in `dir`, cuts 100 bytes off its second
// shard, and expects the whole load to fail once, naming the shard, its last
// tensor and the offset, while the first shard still reads.
void ExpectATruncatedSecondShardFailsTheLoad(const std::string& dir, const LoadOptions& options) {
  ASSERT_OK_AND_ASSIGN(CheckpointReader f, open_checkpoint(dir, "cpu", options));
  const std::string second = dir + "/model-00002-of-00002.safetensors";
  ASSERT_EQ(::truncate(second.c_str(), static_cast<off_t>(fs::file_size(second) - 100)), 0);
  absl::StatusOr<TensorDict> all = f.get_tensors();
  EXPECT_THAT(all, HasErrorCode(ErrorCode::kFileTruncated));
  EXPECT_EQ(all.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(all.status().message(), HasSubstr("shard \"model-00002-of-00002.safetensors\""));
  EXPECT_THAT(all.status().message(), HasSubstr("reading tensor \"layers.2.weight\""));
  EXPECT_THAT(all.status().message(), HasSubstr("ended at byte"));
  EXPECT_OK(f.get_tensor("layers.0.weight"));
}

// Large tensors, read directly or through the page cache: the same tensors;
// and a shard cut short after opening fails either way with one status
// naming the shard, the tensor and the offset.
TEST(CheckpointTest, DirectReadsLoadLargeShardsAndReportTruncation) {
  TensorDict large;
  for (int i = 0; i < 3; ++i) {
    large.insert(absl::StrCat("layers.", i, ".weight"), Range(int64_t{1} << 20).add(i));
  }
  for (DirectIo mode : {DirectIo::kAlways, DirectIo::kNever}) {
    SCOPED_TRACE(static_cast<int>(mode));
    const std::string dir = NewTempDir(absl::StrCat("direct", static_cast<int>(mode)));
    ASSERT_OK(save_torch_state_dict(large, dir, Sharded(9 << 20)));  // 2 + 1 shards of 4 MiB
    LoadOptions pread;
    pread.backend = Backend::kPread;
    pread.direct_io = mode;
    pread.threads = 2;
    ASSERT_OK_AND_ASSIGN(TensorDict loaded, load_checkpoint(dir, "cpu", pread));
    ASSERT_EQ(loaded.size(), 3u);
    for (const auto& item : large) EXPECT_TRUE(at::equal(loaded[item.key()], item.value()));

    ExpectATruncatedSecondShardFailsTheLoad(dir, pread);
  }
}

// A shard that shrinks after the checkpoint validated: the pread backend's
// read fails once, cleanly, naming the shard, the tensor and the offset.
TEST(CheckpointTest, AShardTruncatedAfterOpeningFailsTheLoadWithOneStatus) {
  const std::string dir = NewTempDir("truncated");
  ASSERT_OK(save_torch_state_dict(ThreeTensors(), dir, Sharded()));
  LoadOptions pread;
  pread.backend = Backend::kPread;
  pread.threads = 2;
  ExpectATruncatedSecondShardFailsTheLoad(dir, pread);
}

// A shard that shrinks while a model loads (its first progress report, made
// before any read since the checkpoint holds an empty tensor, truncates it):
// one clean status naming the shard and the tensor, saying the model is
// partly loaded, on any number of threads.
TEST(CheckpointTest, AShardTruncatedDuringLoadTorchModelFailsWithOneStatus) {
  TensorDict tensors = ThreeTensors();
  tensors.insert("empty", Range(0));
  for (int threads : {1, 2, 4}) {
    const std::string dir = NewTempDir(absl::StrCat("truncated_during_", threads));
    ASSERT_OK(save_torch_state_dict(tensors, dir, Sharded()));
    const std::string second = dir + "/model-00002-of-00002.safetensors";
    auto model = testing::ModuleShapedLike(tensors, {}, 0);
    LoadOptions options;
    options.threads = threads;
    bool truncated = false;
    options.progress = [&](const LoadProgress&) {
      if (!truncated) {
        truncated = true;
        ASSERT_EQ(::truncate(second.c_str(), static_cast<off_t>(fs::file_size(second) - 100)), 0);
      }
    };
    absl::StatusOr<LoadModelResult> result =
        load_torch_model(*model, dir, /*strict=*/true, "cpu", options);
    EXPECT_TRUE(truncated);
    EXPECT_THAT(result, HasErrorCode(ErrorCode::kFileTruncated));
    EXPECT_EQ(result.status().code(), absl::StatusCode::kDataLoss);
    EXPECT_THAT(result.status().message(), HasSubstr("shard \"model-00002-of-00002.safetensors\""));
    EXPECT_THAT(result.status().message(), HasSubstr("reading tensor \"layers.2.weight\""));
    EXPECT_THAT(result.status().message(), HasSubstr("the model is partly loaded"));
  }
}

// A FIFO, a socket, a device or a symlink loop where a loader expects a file,
// a shard or an index: load_file, safe_open, open_checkpoint,
// load_checkpoint and load_torch_model each refuse it at once, saying what
// it is; none blocks on a FIFO.
TEST(CheckpointTest, SpecialFilesAreRefusedByEveryLoaderWithoutBlocking) {
  using testing::SpecialFile;
  using testing::SpecialPlace;
  for (SpecialFile kind : testing::AllSpecialFiles()) {
    const ErrorCode expected =
        kind == SpecialFile::kSymlinkLoop ? ErrorCode::kIoError : ErrorCode::kNotRegularFile;
    const std::string message = testing::SpecialFileMessage(kind);
    for (SpecialPlace place : {SpecialPlace::kFile, SpecialPlace::kShard, SpecialPlace::kIndex}) {
      const std::string what = absl::StrCat(testing::SpecialFileName(kind), " as the ",
                                            testing::SpecialPlaceName(place));
      SCOPED_TRACE(what);
      const std::string path = testing::MakeCheckpointWith(
          kind, place, absl::StrCat(::testing::TempDir(), "/torch_special_", static_cast<int>(kind),
                                    "_", static_cast<int>(place)));
      testing::Watchdog watchdog("loaders of a " + what);
      for (Backend backend : {Backend::kMmap, Backend::kPread}) {
        LoadOptions options;
        options.backend = backend;
        if (place == SpecialPlace::kFile) {
          absl::StatusOr<TensorDict> loaded = load_file(path, "cpu", options);
          EXPECT_THAT(loaded, HasErrorCode(expected));
          EXPECT_THAT(std::string(loaded.status().message()), HasSubstr(message));
          absl::StatusOr<SafeOpen> opened = safe_open(path, "cpu", options);
          EXPECT_THAT(opened, HasErrorCode(expected));
          EXPECT_THAT(std::string(opened.status().message()), HasSubstr(message));
        }
        absl::StatusOr<CheckpointReader> reader = open_checkpoint(path, "cpu", options);
        EXPECT_THAT(reader, HasErrorCode(expected));
        EXPECT_THAT(std::string(reader.status().message()), HasSubstr(message));
        EXPECT_THAT(load_checkpoint(path, "cpu", options), HasErrorCode(expected));
        auto model = std::make_shared<torch::nn::Module>();
        EXPECT_THAT(load_torch_model(*model, path, /*strict=*/false, "cpu", options),
                    HasErrorCode(expected));
      }
    }
  }
}

TEST(CheckpointTest, SplitFollowsHuggingfaceHub) {
  TensorDict d;
  d.insert("a", Range(150));  // 600 bytes
  d.insert("b", Range(150));
  d.insert("huge", Range(600));  // 2400 bytes: a shard of its own
  d.insert("c", Range(50));
  at::Tensor storage = Range(20);
  d.insert("first_half", storage.slice(0, 0, 10));  // one storage, counted once
  d.insert("second_half", storage.slice(0, 10, 20));
  ASSERT_OK_AND_ASSIGN(StateDictSplit split, split_torch_state_dict_into_shards(d, "m{suffix}.st", 1000));
  EXPECT_TRUE(split.is_sharded);
  EXPECT_EQ(split.total_size, 600u + 600 + 2400 + 200 + 80);
  // a; then huge, alone, while b waits in the current shard; then b, c and
  // the two halves of one storage.
  ASSERT_EQ(split.filename_to_tensors.size(), 3u);
  EXPECT_EQ(split.filename_to_tensors[0].first, "m-00001-of-00003.st");
  EXPECT_THAT(split.filename_to_tensors[0].second, ElementsAre("a"));
  EXPECT_THAT(split.filename_to_tensors[1].second, ElementsAre("huge"));
  EXPECT_THAT(split.filename_to_tensors[2].second, ElementsAre("b", "c", "first_half", "second_half"));
  ASSERT_OK_AND_ASSIGN(StateDictSplit none, split_torch_state_dict_into_shards(TensorDict()));
  EXPECT_FALSE(none.is_sharded);
  EXPECT_TRUE(none.filename_to_tensors.empty());
}

TEST(CheckpointTest, ParseSizeToInt) {
  EXPECT_THAT(ParseSizeToInt("5GB"), safetensors::testing::IsOkAndHolds(uint64_t{5'000'000'000}));
  EXPECT_THAT(ParseSizeToInt(" 1.5 mb "), safetensors::testing::IsOkAndHolds(uint64_t{1'500'000}));
  EXPECT_THAT(ParseSizeToInt("10KB"), safetensors::testing::IsOkAndHolds(uint64_t{10'000}));
  for (const char* bad : {"", "5", "5GiB", "xGB", "-1GB", "99999999999TB", "nanGB"}) {
    EXPECT_THAT(ParseSizeToInt(bad), HasErrorCode(ErrorCode::kBadArgument)) << bad;
  }
}

}  // namespace
}  // namespace safetensors

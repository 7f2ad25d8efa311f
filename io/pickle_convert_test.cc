#include "io/pickle_convert.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "parser/error.h"
#include "parser/header.h"
#include "parser/status_matchers.h"
#include "testdata/test_files.h"

namespace safetensors {
namespace {

using ::testing::HasSubstr;
using testing::HasErrorCode;
using testing::IsOk;
using testing::NewTempDir;
using testing::ReadTestFile;
using testing::ReadTsv;

constexpr char kDir[] = "testdata/pickle/";

// The same file as far as the format says: tensors (names, dtypes, shapes,
// offsets), metadata as a set of entries, and every data byte.
void ExpectSameFile(const std::string& ours, const std::string& reference) {
  const absl::StatusOr<Header> a = ParseHeader(ours);
  const absl::StatusOr<Header> b = ParseHeader(reference);
  ASSERT_THAT(a, IsOk());
  ASSERT_THAT(b, IsOk());
  ASSERT_EQ(a->tensors().size(), b->tensors().size());
  for (size_t i = 0; i < a->tensors().size(); ++i) {
    const TensorInfo& x = a->tensors()[i];
    const TensorInfo& y = b->tensors()[i];
    EXPECT_EQ(x.name, y.name);
    EXPECT_EQ(x.dtype, y.dtype) << x.name;
    EXPECT_EQ(x.shape, y.shape) << x.name;
    EXPECT_EQ(x.data_begin, y.data_begin) << x.name;
    EXPECT_EQ(x.data_end, y.data_end) << x.name;
  }
  ASSERT_TRUE(a->metadata().has_value());
  ASSERT_TRUE(b->metadata().has_value());
  MetadataEntries ma = *a->metadata(), mb = *b->metadata();
  std::sort(ma.begin(), ma.end());
  std::sort(mb.begin(), mb.end());
  EXPECT_EQ(ma, mb);
  EXPECT_EQ(a->header_size(), b->header_size());
  EXPECT_TRUE(ours.substr(a->data_offset()) == reference.substr(b->data_offset())) << "data bytes differ";
  // One metadata entry leaves no order to choose: the files are identical.
  if (mb.size() <= 1) {
    EXPECT_TRUE(ours == reference) << "files differ";
  }
}

TEST(PickleConvertTest, OutputIsTheReferencePipelines) {
  const std::string dir = NewTempDir("convert");
  size_t compared = 0;
  for (const auto& row : ReadTsv(std::string(kDir) + "converted/manifest.tsv")) {
    if (row[1] != "OK") continue;
    SCOPED_TRACE(row[0]);
    for (uint64_t buffer : {uint64_t{16} << 20, uint64_t{8}}) {  // a tiny buffer flushes per element
      ConvertOptions options;
      options.buffer_bytes = buffer;
      const std::string out = dir + "/" + row[2];
      const absl::StatusOr<ConvertResult> result = ConvertPickleFile(kDir + row[0], out, options);
      ASSERT_THAT(result, IsOk());
      const std::string ours = ReadTestFile(out);
      EXPECT_EQ(result->bytes, ours.size());
      ExpectSameFile(ours, ReadTestFile(std::string(kDir) + "converted/" + row[2]));
    }
    ++compared;
  }
  EXPECT_GE(compared, 9u);
}

TEST(PickleConvertTest, SharedStoragesAreWrittenOnceAndRecorded) {
  const std::string out = NewTempDir("convert_tied") + "/model.safetensors";
  const absl::StatusOr<ConvertResult> result = ConvertPickleFile(std::string(kDir) + "tied.pt", out, {});
  ASSERT_THAT(result, IsOk());
  EXPECT_EQ(result->tensors, 3u);  // embed.weight, bias, wt
  EXPECT_THAT(result->dropped, ::testing::ElementsAre(std::make_pair("head.weight", "embed.weight"),
                                                      std::make_pair("top", "embed.weight")));
  // The contiguous ones went by copy_file_range; "wt" (transposed) did not.
  EXPECT_EQ(result->copied_by_kernel, 4u * 3 * 4 + 3 * 2);
}

TEST(PickleConvertTest, RefusesWhatTheReaderRefusesAndLeavesNoOutput) {
  const std::string dir = NewTempDir("convert_refused");
  const std::string out = dir + "/model.safetensors";
  EXPECT_THAT(ConvertPickleFile(std::string(kDir) + "fickling_exec.pt", out, {}),
              HasErrorCode(ErrorCode::kRefusedGlobal));
  EXPECT_THAT(ConvertPickleFile(std::string(kDir) + "storage_larger_than_record.pt", out, {}),
              HasErrorCode(ErrorCode::kInvalidStorage));
  EXPECT_FALSE(std::filesystem::exists(out));
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir), std::filesystem::directory_iterator()), 0);
  // An existing output is untouched by a refused conversion.
  testing::WriteTempFile("convert_refused/model.safetensors", "keep me");
  EXPECT_FALSE(ConvertPickleFile(std::string(kDir) + "os_system.pt", out, {}).ok());
  EXPECT_EQ(ReadTestFile(out), "keep me");
}

// Where the reference pipeline crashes (its _end_ptr calls view(-1) on a
// transposed view sharing a storage), the same rule, computed, decides: here
// an empty view at the storage's end forms a group no name covers.
TEST(PickleConvertTest, SharedGroupsNoNameCoversAreRefusedAsTheReferenceRefusesThem) {
  const std::string out = NewTempDir("convert_views") + "/model.safetensors";
  const absl::StatusOr<ConvertResult> result = ConvertPickleFile(std::string(kDir) + "views.pt", out, {});
  EXPECT_THAT(result, HasErrorCode(ErrorCode::kInvalidTensor));
  EXPECT_THAT(std::string(result.status().message()), HasSubstr("amongst: {empty_view}"));
}

// convert.py's convert_multi: each shard renamed and converted, the index
// json.dump(indent=4)'d with the renamed weight_map.
TEST(PickleConvertTest, ShardedCheckpointIsConvertedAsConvertPyDoes) {
  const std::string out = NewTempDir("convert_sharded") + "/out";
  std::vector<std::pair<uint64_t, uint64_t>> reports;
  ConvertOptions options;
  options.progress = [&](uint64_t done, uint64_t total) { reports.emplace_back(done, total); };
  const absl::StatusOr<CheckpointConversion> result =
      ConvertPickleCheckpoint(std::string(kDir) + "sharded", out, options);
  ASSERT_THAT(result, IsOk());
  ASSERT_EQ(result->outputs.size(), 2u);
  for (const char* name : {"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"}) {
    SCOPED_TRACE(name);
    ExpectSameFile(ReadTestFile(out + "/" + name), ReadTestFile(std::string(kDir) + "sharded_converted/" + name));
  }
  EXPECT_EQ(ReadTestFile(result->index_path),
            ReadTestFile(std::string(kDir) + "sharded_converted/model.safetensors.index.json"));
  ASSERT_FALSE(reports.empty());
  EXPECT_EQ(reports.back().first, reports.back().second);  // one total across shards
  EXPECT_EQ(reports.back().second, 944u);
  // The index path itself works as well as its directory.
  EXPECT_THAT(ConvertPickleCheckpoint(std::string(kDir) + "sharded/pytorch_model.bin.index.json", out, {}),
              IsOk());
}

TEST(PickleConvertTest, ABadShardStopsTheConversionBeforeAnythingIsWritten) {
  const std::string in = NewTempDir("convert_bad_shard");
  for (const char* name : {"pytorch_model.bin.index.json", "pytorch_model-00001-of-00002.bin"}) {
    testing::WriteTempFile(std::string("convert_bad_shard/") + name,
                           ReadTestFile(std::string(kDir) + "sharded/" + name));
  }
  testing::WriteTempFile("convert_bad_shard/pytorch_model-00002-of-00002.bin",
                         ReadTestFile(std::string(kDir) + "os_system.pt"));
  const std::string out = NewTempDir("convert_bad_shard_out");
  const absl::StatusOr<CheckpointConversion> result = ConvertPickleCheckpoint(in, out, {});
  EXPECT_THAT(result, HasErrorCode(ErrorCode::kRefusedGlobal));
  EXPECT_THAT(std::string(result.status().message()), HasSubstr("shard \"pytorch_model-00002-of-00002.bin\""));
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(out), std::filesystem::directory_iterator()), 0);
}

// An index that disagrees with its shards would become a safetensors index
// that disagrees with its shards: refused before anything is written.
TEST(PickleConvertTest, AnIndexItsShardsContradictIsRefusedBeforeAnythingIsWritten) {
  const std::string in = NewTempDir("convert_swapped_shards");
  testing::WriteTempFile("convert_swapped_shards/pytorch_model.bin.index.json",
                         ReadTestFile(std::string(kDir) + "sharded/pytorch_model.bin.index.json"));
  testing::WriteTempFile("convert_swapped_shards/pytorch_model-00001-of-00002.bin",
                         ReadTestFile(std::string(kDir) + "sharded/pytorch_model-00002-of-00002.bin"));
  testing::WriteTempFile("convert_swapped_shards/pytorch_model-00002-of-00002.bin",
                         ReadTestFile(std::string(kDir) + "sharded/pytorch_model-00001-of-00002.bin"));
  const std::string out = NewTempDir("convert_swapped_shards_out");
  EXPECT_THAT(ConvertPickleCheckpoint(in, out, {}), HasErrorCode(ErrorCode::kUnlistedTensor));
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(out), std::filesystem::directory_iterator()), 0);
  // A single file is no sharded checkpoint.
  EXPECT_THAT(ConvertPickleCheckpoint(std::string(kDir) + "tied.pt", out, {}),
              HasErrorCode(ErrorCode::kBadArgument));
}

TEST(PickleConvertTest, NamesAsConvertPyRenamesThem) {
  EXPECT_EQ(SafetensorsNameFor("pytorch_model.bin"), "model.safetensors");
  EXPECT_EQ(SafetensorsNameFor("pytorch_model-00001-of-00002.bin"), "model-00001-of-00002.safetensors");
  EXPECT_EQ(SafetensorsNameFor("dir.v2/weights.pt"), "dir.v2/weights.safetensors");
  EXPECT_EQ(SafetensorsNameFor("dir.v2/noext"), "dir.v2/noext.safetensors");
}

TEST(PickleConvertTest, ProgressReachesTheTotal) {
  ConvertOptions options;
  uint64_t last_done = 0, last_total = 0;
  options.progress = [&](uint64_t done, uint64_t total) {
    EXPECT_GE(done, last_done);
    last_done = done;
    last_total = total;
  };
  const std::string out = NewTempDir("convert_progress") + "/model.safetensors";
  ASSERT_THAT(ConvertPickleFile(std::string(kDir) + "all_dtypes.pt", out, options), IsOk());
  EXPECT_GT(last_total, 0u);
  EXPECT_EQ(last_done, last_total);
}

}  // namespace
}  // namespace safetensors

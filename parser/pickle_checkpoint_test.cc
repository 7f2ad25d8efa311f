#include "parser/pickle_checkpoint.h"

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "parser/byte_cursor.h"
#include "parser/dtype.h"
#include "parser/error.h"
#include "parser/pickle_testing.h"
#include "parser/status_matchers.h"
#include "testdata/test_files.h"

namespace safetensors {
namespace {

using ::testing::HasSubstr;
using testing::HasErrorCode;
using testing::IsOk;
using testing::ReadTestFile;
using testing::ReadTsv;

constexpr char kDir[] = "testdata/pickle/";
// What the hostile payloads would create had they run (tools/gen_pickle_checkpoints.py).
constexpr char kPayloadMark[] = "/tmp/safetensors-cpp-pickle-payload-ran";

absl::StatusOr<PickleCheckpoint> ParseFile(const std::string& bytes,
                                           const PickleCheckpointOptions& options = {}) {
  return ParsePickleCheckpoint(BytesOf(bytes), options);
}

TEST(PickleCheckpointTest, EveryManifestCaseGetsItsVerdict) {
  const auto rows = ReadTsv(std::string(kDir) + "manifest.tsv");
  ASSERT_GE(rows.size(), 40u);
  std::filesystem::remove(kPayloadMark);
  for (const auto& row : rows) {
    ASSERT_EQ(row.size(), 3u);
    SCOPED_TRACE(row[0] + ": " + row[2]);
    const absl::StatusOr<PickleCheckpoint> table = ParseFile(ReadTestFile(kDir + row[0]));
    if (row[1] == "OK") {
      EXPECT_THAT(table, IsOk());
    } else {
      const std::optional<ErrorCode> code = ErrorCodeFromName(row[1]);
      ASSERT_TRUE(code.has_value()) << row[1];
      EXPECT_THAT(table, HasErrorCode(*code));
    }
  }
  // Reading is not running: no payload left its mark.
  EXPECT_FALSE(std::filesystem::exists(kPayloadMark));
}

TEST(PickleCheckpointTest, TensorsAreTheOnesTorchLoadReturns) {
  std::map<std::string, std::vector<std::vector<std::string>>> expected;
  for (const auto& row : ReadTsv(std::string(kDir) + "expected.tsv")) expected[row[0]].push_back(row);
  ASSERT_GE(expected.size(), 10u);
  for (const auto& [file_name, rows] : expected) {
    SCOPED_TRACE(file_name);
    const std::string file = ReadTestFile(kDir + file_name);
    const absl::StatusOr<PickleCheckpoint> table = ParseFile(file);
    ASSERT_THAT(table, IsOk());
    ASSERT_EQ(table->tensors.size(), rows.size());
    for (const auto& row : rows) {
      SCOPED_TRACE(row[1]);
      auto it = std::find_if(table->tensors.begin(), table->tensors.end(),
                             [&](const PickleTensor& t) { return t.name == row[1]; });
      ASSERT_NE(it, table->tensors.end());
      EXPECT_EQ(DtypeName(it->dtype), row[2]);
      EXPECT_EQ(absl::StrJoin(it->shape, ","), row[3]);
      EXPECT_EQ(absl::StrJoin(it->strides, ","), row[4]);
      EXPECT_EQ(absl::StrCat(it->storage_offset), row[5]);
      EXPECT_EQ(testing::Sha256Hex(testing::GatherPickleElements(BytesOf(file), *table, *it)), row[6]);
    }
  }
}

TEST(PickleCheckpointTest, ZipRecordsAreAlignedAndNamedByTheirFolder) {
  const std::string file = ReadTestFile(std::string(kDir) + "views.pt");
  const absl::StatusOr<PickleCheckpoint> table = ParseFile(file);
  ASSERT_THAT(table, IsOk());
  EXPECT_EQ(table->format, PickleFormat::kZip);
  EXPECT_EQ(table->archive_prefix, "views");  // torch.save names it by the file's stem
  EXPECT_FALSE(table->big_endian);
  // Tied and sliced views share one storage: every tensor of views.pt but
  // the two empty ones lies in storage "0".
  ASSERT_GE(table->storages.size(), 1u);
  for (const PickleStorage& storage : table->storages) {
    EXPECT_EQ(storage.byte_offset % 64, 0u) << storage.key;
    EXPECT_EQ(storage.byte_size, storage.numel * DtypeBits(storage.dtype) / 8);
  }
  size_t sharing = 0;
  for (const PickleTensor& t : table->tensors) sharing += table->storages[t.storage].key == "0";
  EXPECT_EQ(sharing, 7u);
}

TEST(PickleCheckpointTest, TrainerCheckpointNamesTensorsFromStateDictAndReportsTheRest) {
  const absl::StatusOr<PickleCheckpoint> table = ParseFile(ReadTestFile(std::string(kDir) + "trainer.ckpt"));
  ASSERT_THAT(table, IsOk());
  EXPECT_EQ(table->root_path, "state_dict");
  std::vector<std::string> names;
  for (const PickleTensor& t : table->tensors) names.push_back(t.name);
  EXPECT_THAT(names, ::testing::ElementsAre("layer.weight", "layer.bias"));
  std::map<std::string, std::string> others;
  for (const PickleOther& other : table->others) others[other.name] = other.description;
  EXPECT_EQ(others["epoch"], "int 3");
  EXPECT_EQ(others["lr"], "float 0.25");
  EXPECT_EQ(others["name"], "str \"run-7\"");
  EXPECT_EQ(others["flag"], "bool True");
  EXPECT_EQ(others["nothing"], "None");
  EXPECT_EQ(others["optimizer_states"], "list of 1");
}

TEST(PickleCheckpointTest, KeyPathChoosesTheDict) {
  PickleCheckpointOptions options;
  options.key_path = "encoder.layer";
  const absl::StatusOr<PickleCheckpoint> table =
      ParseFile(ReadTestFile(std::string(kDir) + "nested.pt"), options);
  ASSERT_THAT(table, IsOk());
  std::vector<std::string> names;
  for (const PickleTensor& t : table->tensors) names.push_back(t.name);
  EXPECT_THAT(names, ::testing::ElementsAre("0.weight", "1.weight"));
  ASSERT_EQ(table->others.size(), 1u);
  EXPECT_EQ(table->others[0].name, "head");

  options.key_path = "encoder.missing";
  EXPECT_THAT(ParseFile(ReadTestFile(std::string(kDir) + "nested.pt"), options),
              HasErrorCode(ErrorCode::kTensorNotFound));
}

TEST(PickleCheckpointTest, RefusalNamesTheGlobalAndItsOffset) {
  const absl::StatusOr<PickleCheckpoint> table =
      ParseFile(ReadTestFile(std::string(kDir) + "fickling_exec.pt"));
  ASSERT_THAT(table, HasErrorCode(ErrorCode::kRefusedGlobal));
  EXPECT_THAT(table.status().message(), HasSubstr("\"builtins.exec\" at byte 66"));
  const absl::StatusOr<PickleCheckpoint> os_system = ParseFile(ReadTestFile(std::string(kDir) + "os_system.pt"));
  EXPECT_THAT(os_system.status().message(), HasSubstr("\"os.system\""));
}

TEST(PickleCheckpointTest, SkipUnknownKeepsPlaceholdersAndNeverReachesThroughThem) {
  PickleCheckpointOptions options;
  options.skip_unknown = true;
  // os.system("touch ...") as the whole pickle: a placeholder, not a dict.
  EXPECT_THAT(ParseFile(ReadTestFile(std::string(kDir) + "os_system.pt"), options),
              HasErrorCode(ErrorCode::kUnsupportedFormat));
  // A quantized tensor: its global is recorded as refused, the value skipped,
  // its storage still accounted for.
  const absl::StatusOr<PickleCheckpoint> table =
      ParseFile(ReadTestFile(std::string(kDir) + "quantized.pt"), options);
  ASSERT_THAT(table, IsOk());
  EXPECT_TRUE(table->tensors.empty());
  ASSERT_EQ(table->skipped.size(), 1u);
  EXPECT_EQ(table->skipped[0].name, "q");
  EXPECT_THAT(table->skipped[0].description, HasSubstr("torch._utils._rebuild_qtensor"));
  EXPECT_EQ(table->storages.size(), 1u);
  bool refused_named = false;
  for (const PickleGlobalUse& global : table->globals) {
    refused_named |= global.name == "torch._utils._rebuild_qtensor" && !global.allowed;
  }
  EXPECT_TRUE(refused_named);
}

TEST(PickleCheckpointTest, LegacyFormatIsReadWithItsOwnFraming) {
  const std::string file = ReadTestFile(std::string(kDir) + "legacy.pt");
  const absl::StatusOr<PickleCheckpoint> table = ParseFile(file);
  ASSERT_THAT(table, IsOk());
  EXPECT_EQ(table->format, PickleFormat::kLegacy);
  // The last storage ends the file.
  uint64_t end = 0;
  for (const PickleStorage& storage : table->storages) end = std::max(end, storage.byte_offset + storage.byte_size);
  EXPECT_EQ(end, file.size());
  // Every cut of it is refused, none crashes.
  for (size_t size = 0; size < file.size(); size += 7) {
    EXPECT_FALSE(ParseFile(file.substr(0, size)).ok()) << size;
  }
}

TEST(PickleCheckpointTest, EveryTruncationOfAZipIsRefused) {
  const std::string file = ReadTestFile(std::string(kDir) + "module_state_dict.pt");
  for (size_t size = 0; size < file.size(); ++size) {
    EXPECT_FALSE(ParseFile(file.substr(0, size)).ok()) << size;
  }
}

TEST(PickleCheckpointTest, BigEndianArchiveSaysSo) {
  const absl::StatusOr<PickleCheckpoint> table = ParseFile(ReadTestFile(std::string(kDir) + "big_endian.pt"));
  ASSERT_THAT(table, IsOk());
  EXPECT_TRUE(table->big_endian);
}

}  // namespace
}  // namespace safetensors

// The parser on files written by the reference (testdata/golden) and on our
// own invalid files (testdata/invalid/<ErrorCode>/).
#include <algorithm>
#include <filesystem>
#include <map>
#include <set>
#include <string>

#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "parser/dtype.h"
#include "parser/error.h"
#include "parser/header.h"
#include "parser/status_matchers.h"
#include "testdata/golden_manifest.h"
#include "testdata/test_files.h"

namespace safetensors {
namespace {

namespace fs = std::filesystem;
using ::safetensors::testing::GoldenFile;
using ::safetensors::testing::GoldenTensor;
using ::safetensors::testing::ReadGoldenManifest;
using ::safetensors::testing::ReadTestFile;
using ::safetensors::testing::ReadTsv;
using ::safetensors::testing::Sha256Hex;

TEST(GoldenTest, EveryGoldenFileMatchesItsManifest) {
  const std::vector<GoldenFile> files = ReadGoldenManifest();
  ASSERT_GE(files.size(), 30u);
  for (const GoldenFile& golden : files) {
    SCOPED_TRACE(golden.path);
    const std::string bytes = ReadTestFile(golden.path);
    ASSERT_OK_AND_ASSIGN(Header header, ParseHeader(bytes));
    ASSERT_EQ(header.tensors().size(), golden.tensors.size());
    for (size_t i = 0; i < golden.tensors.size(); ++i) {
      const GoldenTensor& want = golden.tensors[i];
      const TensorInfo& got = header.tensors()[i];
      EXPECT_EQ(got.name, want.name);
      EXPECT_EQ(DtypeName(got.dtype), want.dtype);
      EXPECT_THAT(got.shape, ::testing::ElementsAreArray(want.shape));
      EXPECT_EQ(got.data_begin, want.data_begin);
      EXPECT_EQ(got.data_end, want.data_end);
      EXPECT_EQ(header.Find(want.name), &got);
      EXPECT_EQ(Sha256Hex(absl::string_view(bytes).substr(
                    header.data_offset() + got.data_begin, got.num_bytes())),
                want.sha256)
          << want.name;
    }
    // The reference writes metadata in hash-map order; the manifest sorts it.
    ASSERT_EQ(header.metadata().has_value(), golden.metadata.has_value());
    if (golden.metadata.has_value()) {
      MetadataEntries sorted = *header.metadata();
      std::sort(sorted.begin(), sorted.end());
      EXPECT_EQ(sorted, *golden.metadata);
    }
  }
}

constexpr char kInvalidDir[] = "testdata/invalid";

TEST(GoldenTest, EveryInvalidFileFailsWithItsFoldersCode) {
  std::set<std::string> listed;
  int count = 0;
  for (const auto& row : ReadTsv(std::string(kInvalidDir) + "/manifest.tsv")) {
    ASSERT_EQ(row.size(), 2u);
    const std::string& path = row[0];
    const std::string& reference = row[1];
    SCOPED_TRACE(path);
    listed.insert(path);
    ++count;
    const std::string folder = path.substr(0, path.find('/'));
    std::optional<ErrorCode> expected = ErrorCodeFromName(folder);
    ASSERT_TRUE(expected.has_value()) << "folder is not an ErrorCode: " << folder;
    absl::StatusOr<Header> result = ParseHeader(ReadTestFile(std::string(kInvalidDir) + "/" + path));
    EXPECT_THAT(result, ::safetensors::testing::HasErrorCode(*expected));
    if (reference == "OK") {
      // Only our three deliberate rules reject what the reference accepts.
      EXPECT_THAT(*expected, ::testing::AnyOf(ErrorCode::kDuplicateKey, ErrorCode::kInvalidSchema,
                                              ErrorCode::kValidationOverflow));
    } else {
      EXPECT_EQ(ReferenceErrorClass(*expected), reference);
    }
  }
  EXPECT_GE(count, 25);
  std::set<std::string> present;
  for (const auto& entry : fs::recursive_directory_iterator(kInvalidDir)) {
    if (entry.path().extension() == ".safetensors") {
      present.insert(entry.path().lexically_relative(kInvalidDir).string());
    }
  }
  EXPECT_EQ(listed, present);
}

}  // namespace
}  // namespace safetensors

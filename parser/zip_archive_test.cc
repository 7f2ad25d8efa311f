#include "parser/zip_archive.h"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "parser/byte_cursor.h"
#include "parser/error.h"
#include "parser/status_matchers.h"
#include "testdata/test_files.h"

namespace safetensors {
namespace {

using ::testing::HasSubstr;
using testing::HasErrorCode;
using testing::IsOk;
using testing::ReadTestFile;

constexpr char kDir[] = "testdata/pickle/";

TEST(ZipArchiveTest, ReadsTorchSaveOutput) {
  const std::string file = ReadTestFile(std::string(kDir) + "views.pt");
  ASSERT_TRUE(StartsLikeZip(BytesOf(file)));
  const absl::StatusOr<ZipArchive> zip = ParseZipArchive(BytesOf(file));
  ASSERT_THAT(zip, IsOk());
  ASSERT_NE(zip->Find("views/data.pkl"), nullptr);
  ASSERT_NE(zip->Find("views/byteorder"), nullptr);
  EXPECT_EQ(zip->Find("views/nothing"), nullptr);
  const ZipEntry& byteorder = *zip->Find("views/byteorder");
  EXPECT_EQ(file.substr(byteorder.data_offset, byteorder.size), "little");
  for (const ZipEntry& entry : zip->entries) {
    EXPECT_EQ(entry.method, kZipMethodStored) << entry.name;
    EXPECT_EQ(entry.data_offset % 64, 0u) << entry.name;  // torch aligns every record
    EXPECT_LE(entry.data_offset + entry.size, file.size());
  }
  // data.pkl starts with PROTO 2.
  const ZipEntry& pickle = *zip->Find("views/data.pkl");
  EXPECT_EQ(file.substr(pickle.data_offset, 2), "\x80\x02");
}

// ZIP64 end records and extra fields, and Python's layout (sizes in the
// local headers, no descriptors), read to the same entries as torch's own.
TEST(ZipArchiveTest, Zip64AndPythonLayoutsReadToTheSameEntries) {
  const std::string zip64_file = ReadTestFile(std::string(kDir) + "zip64.pt");
  const std::string python_file = ReadTestFile(std::string(kDir) + "python_zipfile.pt");
  const absl::StatusOr<ZipArchive> zip64 = ParseZipArchive(BytesOf(zip64_file));
  const absl::StatusOr<ZipArchive> python = ParseZipArchive(BytesOf(python_file));
  ASSERT_THAT(zip64, IsOk());
  ASSERT_THAT(python, IsOk());
  ASSERT_EQ(zip64->entries.size(), python->entries.size());
  for (size_t i = 0; i < zip64->entries.size(); ++i) {
    const ZipEntry& a = zip64->entries[i];
    const ZipEntry& b = python->entries[i];
    EXPECT_EQ(a.name, b.name);
    EXPECT_EQ(a.size, b.size);
    EXPECT_EQ(a.crc32, b.crc32);
    EXPECT_EQ(zip64_file.substr(a.data_offset, a.size), python_file.substr(b.data_offset, b.size));
  }
}

TEST(ZipArchiveTest, RefusesWhatReadersCouldReadTwoWays) {
  const struct {
    const char* file;
    const char* rule;
  } cases[] = {
      {"zip_appended.pt", "no end-of-central-directory record ends at the end of the file"},
      {"local_name_differs.pt", "local header names another file"},
      {"local_method_differs.pt", "disagree on flags or method"},
      {"encrypted.pt", "encrypted"},
      {"duplicate_entry.pt", "a second entry of the same name"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.file);
    const absl::StatusOr<ZipArchive> zip = ParseZipArchive(BytesOf(ReadTestFile(std::string(kDir) + c.file)));
    EXPECT_THAT(zip, HasErrorCode(ErrorCode::kInvalidArchive));
    EXPECT_THAT(zip.status().message(), HasSubstr(c.rule));
  }
}

TEST(ZipArchiveTest, RefusesBytesHiddenAnywhere) {
  const std::string file = ReadTestFile(std::string(kDir) + "views.pt");
  // Prepended bytes move every offset: the first header is not at byte 0.
  EXPECT_THAT(ParseZipArchive(BytesOf(std::string(16, 'x') + file)), HasErrorCode(ErrorCode::kInvalidArchive));
  // A second end record inside the comment of the first would let two
  // readers see two archives.
  std::string commented = file;
  commented[commented.size() - 2] = 22;  // comment length 22
  const std::string end_record = file.substr(file.size() - 22);
  EXPECT_THAT(ParseZipArchive(BytesOf(commented + end_record)), HasErrorCode(ErrorCode::kInvalidArchive));
  // Every flipped byte in the central directory and end record is refused
  // as an archive error or read with every entry inside the file.
  const absl::StatusOr<ZipArchive> zip = ParseZipArchive(BytesOf(file));
  ASSERT_THAT(zip, IsOk());
  for (size_t at = file.size() - 200; at < file.size(); ++at) {
    std::string mutated = file;
    mutated[at] = static_cast<char>(mutated[at] ^ 0x41);
    const absl::StatusOr<ZipArchive> read = ParseZipArchive(BytesOf(mutated));
    if (!read.ok()) {
      EXPECT_THAT(read, HasErrorCode(ErrorCode::kInvalidArchive)) << at;
      continue;
    }
    for (const ZipEntry& entry : read->entries) {
      EXPECT_LE(entry.data_offset + entry.compressed_size, mutated.size()) << at;
    }
  }
}

// The hint names, before they are read, a range around every local header,
// so that a reader of a cold file can ask for them all at once.
TEST(ZipArchiveTest, HintsEveryLocalHeaderBeforeReadingIt) {
  const std::string file = ReadTestFile(std::string(kDir) + "views.pt");
  std::vector<std::pair<uint64_t, uint64_t>> hints;
  const absl::StatusOr<ZipArchive> zip =
      ParseZipArchive(BytesOf(file), [&](uint64_t offset, uint64_t length) { hints.emplace_back(offset, length); });
  ASSERT_THAT(zip, IsOk());
  ASSERT_EQ(hints.size(), zip->entries.size());
  for (const ZipEntry& entry : zip->entries) {
    const bool covered = std::any_of(hints.begin(), hints.end(), [&](const std::pair<uint64_t, uint64_t>& h) {
      return h.first <= entry.local_header_offset && entry.data_offset <= h.first + h.second;
    });
    EXPECT_TRUE(covered) << entry.name;
  }
}

TEST(ZipArchiveTest, RefusesFilesTooShortForAnEndRecord) {
  EXPECT_FALSE(StartsLikeZip(BytesOf("PK")));
  const absl::StatusOr<ZipArchive> zip = ParseZipArchive(BytesOf("PK\x05\x06"));
  EXPECT_THAT(zip, HasErrorCode(ErrorCode::kInvalidArchive));
  // An empty archive (just an end record) has no entries and is read as such.
  const std::string empty("PK\x05\x06" + std::string(18, '\0'));
  const absl::StatusOr<ZipArchive> nothing = ParseZipArchive(BytesOf(empty));
  ASSERT_THAT(nothing, IsOk());
  EXPECT_TRUE(nothing->entries.empty());
}

}  // namespace
}  // namespace safetensors

#include "io/header_file.h"

#include <fstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "parser/error.h"
#include "parser/status_matchers.h"
#include "testdata/test_files.h"

namespace safetensors {
namespace {

using ::safetensors::testing::HasErrorCode;
using ::safetensors::testing::ReadTestFile;
using ::safetensors::testing::WriteTempFile;
using ::safetensors::testing::ReadTsv;

// The file on disk gets the verdict the same bytes get in memory, for every
// conformance file: ReadHeaderFile adds I/O, not rules.
TEST(ReadHeaderFileTest, AgreesWithParseHeaderOnEveryConformanceFile) {
  int rows = 0;
  for (const auto& row : ReadTsv("testdata/conformance/expected.tsv")) {
    SCOPED_TRACE(row[0]);
    ++rows;
    const std::string path = "testdata/conformance/files/" + row[0];
    const absl::StatusOr<Header> in_memory = ParseHeader(ReadTestFile(path));
    const absl::StatusOr<Header> from_disk = ReadHeaderFile(path);
    ASSERT_EQ(in_memory.ok(), from_disk.ok()) << from_disk.status();
    if (in_memory.ok()) {
      EXPECT_TRUE(*in_memory == *from_disk);
    } else {
      EXPECT_EQ(GetErrorCode(in_memory.status()), GetErrorCode(from_disk.status()));
      EXPECT_EQ(in_memory.status().message(), from_disk.status().message());
    }
  }
  EXPECT_GT(rows, 20);
}

TEST(ReadHeaderFileTest, ShortAndMissingFiles) {
  EXPECT_THAT(ReadHeaderFile(WriteTempFile("three_bytes", "abc")),
              HasErrorCode(ErrorCode::kHeaderTooSmall));
  EXPECT_THAT(ReadHeaderFile(::testing::TempDir() + "/no_such_file"),
              HasErrorCode(ErrorCode::kIoError));
  EXPECT_THAT(ReadHeaderFile(::testing::TempDir()), HasErrorCode(ErrorCode::kNotRegularFile));
}

TEST(ReadHeaderFileTest, LimitIsCheckedBeforeReading) {
  // Claims a 2^40-byte header in a 16-byte file: refused by the limit, with no
  // allocation of that size.
  std::string bytes(16, '\0');
  bytes[5] = 1;
  ParseOptions options;
  options.max_header_size = 1000;
  EXPECT_THAT(ReadHeaderFile(WriteTempFile("huge_claim", bytes), options),
              HasErrorCode(ErrorCode::kHeaderTooLarge));
  EXPECT_THAT(ReadHeaderFile(WriteTempFile("huge_claim2", bytes)),
              HasErrorCode(ErrorCode::kHeaderTooLarge));
}

}  // namespace
}  // namespace safetensors

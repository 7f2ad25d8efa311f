// Every row of testdata/conformance/expected.tsv: our verdict, and for files
// the reference also rejects, the reference's error class.
#include <algorithm>
#include <filesystem>
#include <set>
#include <string>
#include <system_error>

#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "parser/error.h"
#include "parser/header.h"
#include "parser/status_matchers.h"
#include "testdata/test_files.h"

namespace safetensors {
namespace {

namespace fs = std::filesystem;
using ::safetensors::testing::ReadTestFile;
using ::safetensors::testing::ReadTsv;

constexpr char kDir[] = "testdata/conformance";

struct Row {
  std::string file, reference_verdict, reference_class, expected_verdict, note;
};

std::vector<Row> Rows() {
  std::vector<Row> rows;
  for (const auto& cells : ReadTsv(std::string(kDir) + "/expected.tsv")) {
    EXPECT_EQ(cells.size(), 5u) << "malformed row for " << cells[0];
    if (cells.size() != 5) continue;
    rows.push_back(Row{cells[0], cells[1], cells[2], cells[3], cells[4]});
  }
  return rows;
}

// Where we are stricter than the reference, the note names which rule.
ErrorCode ExpectedStrictCode(const std::string& note) {
  if (absl::StrContains(note, "duplicate key")) return ErrorCode::kDuplicateKey;
  if (absl::StrContains(note, "serde artifact")) return ErrorCode::kInvalidSchema;
  if (absl::StrContains(note, "overflow")) return ErrorCode::kValidationOverflow;
  ADD_FAILURE() << "unrecognized note: " << note;
  return ErrorCode::kBadArgument;
}

void CheckVerdict(const Row& row, const absl::StatusOr<Header>& result,
                  absl::string_view how) {
  SCOPED_TRACE(row.file + " via " + std::string(how));
  if (row.expected_verdict == "OK") {
    EXPECT_TRUE(result.ok()) << result.status();
    return;
  }
  ASSERT_FALSE(result.ok());
  std::optional<ErrorCode> code = GetErrorCode(result.status());
  ASSERT_TRUE(code.has_value()) << result.status();
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  if (row.reference_verdict == "ERR") {
    EXPECT_EQ(ReferenceErrorClass(*code), row.reference_class) << result.status();
  } else {
    EXPECT_EQ(*code, ExpectedStrictCode(row.note)) << result.status();
  }
}

TEST(ConformanceTest, EveryRowAgrees) {
  const std::vector<Row> rows = Rows();
  ASSERT_GE(rows.size(), 201u);
  for (const Row& row : rows) {
    const std::string bytes = ReadTestFile(std::string(kDir) + "/files/" + row.file);
    CheckVerdict(row, ParseHeader(bytes), "whole file");

    // The same verdict from only the first 8 + N bytes and the file size, as
    // a reader of a multi-gigabyte file calls it.
    const absl::Span<const uint8_t> all(
        reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
    absl::StatusOr<uint64_t> n = ReadHeaderSize(all.first(std::min<size_t>(8, all.size())),
                                                all.size(), {});
    if (!n.ok()) {
      CheckVerdict(row, n.status(), "ReadHeaderSize");
      continue;
    }
    CheckVerdict(row, ParseHeader(all.first(8 + *n), all.size()), "prefix");
  }
}

TEST(ConformanceTest, EveryFileHasARowAndEveryRowAFile) {
  std::set<std::string> listed, present;
  for (const Row& row : Rows()) {
    EXPECT_TRUE(listed.insert(row.file).second) << "listed twice: " << row.file;
  }
  for (const auto& entry : fs::directory_iterator(std::string(kDir) + "/files")) {
    present.insert(entry.path().filename().string());
  }
  EXPECT_EQ(listed, present);
}

}  // namespace
}  // namespace safetensors

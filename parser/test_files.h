// Reading test data from the runfiles tree (tests only).
#ifndef SAFETENSORS_PARSER_TEST_FILES_H_
#define SAFETENSORS_PARSER_TEST_FILES_H_

#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "gtest/gtest.h"

namespace safetensors {
namespace testing {

// The whole file at `path` (relative to the runfiles root, e.g.
// "testdata/conformance/expected.tsv"); fails the test if unreadable.
inline std::string ReadTestFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot open " << path;
  return std::string(std::istreambuf_iterator<char>(in),
                     std::istreambuf_iterator<char>());
}

// Rows of a tab-separated file, skipping blank lines and '#' comments.
inline std::vector<std::vector<std::string>> ReadTsv(const std::string& path) {
  std::vector<std::vector<std::string>> rows;
  for (absl::string_view line : absl::StrSplit(ReadTestFile(path), '\n')) {
    if (line.empty() || line[0] == '#') continue;
    rows.push_back(absl::StrSplit(line, '\t'));
  }
  return rows;
}

}  // namespace testing
}  // namespace safetensors

#endif  // SAFETENSORS_PARSER_TEST_FILES_H_

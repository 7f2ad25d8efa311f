// Reading test data from the runfiles tree (tests only).
#ifndef SAFETENSORS_TESTDATA_TEST_FILES_H_
#define SAFETENSORS_TESTDATA_TEST_FILES_H_

#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "openssl/evp.h"
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

// Lower-case hex SHA-256 of `bytes`, as Python's hashlib writes it.
inline std::string Sha256Hex(absl::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EXPECT_EQ(EVP_Digest(bytes.data(), bytes.size(), digest, &length, EVP_sha256(), nullptr), 1);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < length; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 0xF]);
  }
  return out;
}

// A new, empty directory `name` in the test's temporary directory; its path.
inline std::string NewTempDir(const std::string& name) {
  const std::string dir = ::testing::TempDir() + "/" + name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

// Writes `bytes` to `name` in the test's temporary directory; its path.
inline std::string WriteTempFile(const std::string& name, const std::string& bytes) {
  const std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
  EXPECT_TRUE(out.good()) << "cannot write " << path;
  return path;
}

}  // namespace testing
}  // namespace safetensors

#endif  // SAFETENSORS_TESTDATA_TEST_FILES_H_

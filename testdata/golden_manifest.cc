#include "testdata/golden_manifest.h"

#include <map>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "testdata/test_files.h"

namespace safetensors {
namespace testing {
namespace {

std::string Unescape(const std::string& text) {
  std::string out;
  EXPECT_TRUE(absl::CUnescape(text, &out)) << text;
  return out;
}

template <typename T>
std::vector<T> Numbers(const std::string& text) {
  std::vector<T> out;
  if (text.empty()) return out;
  for (absl::string_view part : absl::StrSplit(text, ',')) {
    T value{};
    EXPECT_TRUE(absl::SimpleAtoi(part, &value)) << text;
    out.push_back(value);
  }
  return out;
}

}  // namespace

std::vector<GoldenFile> ReadGoldenManifest() {
  std::vector<GoldenFile> files;
  std::map<std::string, size_t> index;
  std::map<std::string, size_t> expected_tensors, expected_metadata;
  for (const std::vector<std::string>& row :
       ReadTsv(std::string(kGoldenDir) + "/manifest.tsv")) {
    if (row.size() < 2) {
      ADD_FAILURE() << "short manifest row";
      continue;
    }
    auto [it, inserted] = index.emplace(row[0], files.size());
    if (inserted) files.push_back(GoldenFile{std::string(kGoldenDir) + "/" + row[0], {}, {}});
    GoldenFile& file = files[it->second];
    const std::string& kind = row[1];
    if (kind == "tensors" && row.size() == 3) {
      expected_tensors[row[0]] = std::stoul(row[2]);
    } else if (kind == "no_metadata" && row.size() == 2) {
      file.metadata.reset();
    } else if (kind == "metadata_entries" && row.size() == 3) {
      file.metadata.emplace();
      expected_metadata[row[0]] = std::stoul(row[2]);
    } else if (kind == "metadata" && row.size() == 4 && file.metadata.has_value()) {
      file.metadata->emplace_back(Unescape(row[2]), Unescape(row[3]));
    } else if (kind == "tensor" && row.size() == 10) {
      file.tensors.push_back(GoldenTensor{
          Unescape(row[2]), row[3], Numbers<uint64_t>(row[4]), std::stoull(row[5]),
          std::stoull(row[6]), row[7], row[8], Numbers<int64_t>(row[9])});
    } else {
      ADD_FAILURE() << "malformed manifest row for " << row[0] << " (" << kind << ")";
    }
  }
  // Counts guard against a row silently lost.
  for (const GoldenFile& file : files) {
    const std::string name = file.path.substr(sizeof(kGoldenDir));
    EXPECT_EQ(file.tensors.size(), expected_tensors[name]) << name;
    if (file.metadata.has_value()) {
      EXPECT_EQ(file.metadata->size(), expected_metadata[name]) << name;
    }
  }
  return files;
}

}  // namespace testing
}  // namespace safetensors

// Every hostile file is refused by every entry point, in both backends, with
// the parser's own error code; valid files load, or fail only where this
// LibTorch cannot hold a tensor.
#include <filesystem>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "parser/error.h"
#include "parser/header.h"
#include "parser/status_matchers.h"
#include "testdata/test_files.h"
#include "torch_io/load.h"
#include "torch_io/safe_open.h"

namespace safetensors {
namespace {

namespace fs = std::filesystem;
using ::safetensors::testing::HasErrorCode;
using ::safetensors::testing::ReadTestFile;
using ::safetensors::testing::ReadTsv;

std::vector<std::string> HostileAndValidFiles() {
  std::vector<std::string> paths;
  for (const auto& row : ReadTsv("testdata/conformance/expected.tsv")) {
    paths.push_back("testdata/conformance/files/" + row[0]);
  }
  for (const auto& row : ReadTsv("testdata/invalid/manifest.tsv")) {
    paths.push_back("testdata/invalid/" + row[0]);
  }
  return paths;
}

TEST(InvalidFilesTest, EveryEntryPointAgreesWithTheParser) {
  int rejected = 0, accepted = 0;
  for (const std::string& path : HostileAndValidFiles()) {
    SCOPED_TRACE(path);
    const std::string bytes = ReadTestFile(path);
    const absl::StatusOr<Header> parsed = ParseHeader(bytes);
    if (!parsed.ok()) {
      ++rejected;
      const ErrorCode code = *GetErrorCode(parsed.status());
      for (Backend backend : {Backend::kMmap, Backend::kPread}) {
        LoadOptions options;
        options.backend = backend;
        EXPECT_THAT(load_file(path, "cpu", options), HasErrorCode(code));
        EXPECT_THAT(safe_open(path, "cpu", options), HasErrorCode(code));
      }
      EXPECT_THAT(load(bytes), HasErrorCode(code));
      continue;
    }
    ++accepted;
    ASSERT_OK_AND_ASSIGN(SafeOpen f, safe_open(path));
    for (const absl::StatusOr<TensorDict>& result :
         {load_file(path), load(bytes), f.get_tensors()}) {
      if (result.ok()) continue;
      // Valid files LibTorch cannot hold: F6 dtypes, F4 with an odd last
      // dimension, dimensions above INT64_MAX.
      EXPECT_THAT(result, ::testing::AnyOf(HasErrorCode(ErrorCode::kUnsupportedDtype),
                                           HasErrorCode(ErrorCode::kInvalidTensor)));
    }
  }
  EXPECT_GE(rejected, 150);
  EXPECT_GE(accepted, 40);
}

}  // namespace
}  // namespace safetensors

#include "io/file_hash.h"

#include <unistd.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "io/test_util.h"
#include "parser/error.h"
#include "parser/status_matchers.h"
#include "testdata/test_files.h"

namespace safetensors {
namespace {

using ::safetensors::testing::GitHashObjectOf;
using ::safetensors::testing::HasErrorCode;
using ::safetensors::testing::Sha256sumOf;
using ::safetensors::testing::IsOkAndHolds;
using ::safetensors::testing::PatternedBytes;
using ::safetensors::testing::WriteTempFile;
using ::testing::HasSubstr;

// Sizes around the 64 KiB reads and the 16 MiB and 64 MiB prefetch steps:
// the digests are sha256sum's and git hash-object's.
TEST(HashFileTest, AgreesWithSha256sumAndGitHashObject) {
  constexpr size_t kMiB = size_t{1} << 20;
  for (size_t size : {size_t{0}, size_t{1}, size_t{4095}, size_t{4096}, size_t{100000},
                      size_t{65535}, size_t{65536}, size_t{65537}, 16 * kMiB - 1, 16 * kMiB + 1, 83 * kMiB + 7}) {
    SCOPED_TRACE(size);
    const std::string path = WriteTempFile(absl::StrCat("hash_", size), PatternedBytes(size));
    const std::string sha256 = Sha256sumOf(path);
    const std::string git = GitHashObjectOf(path);
    ASSERT_EQ(sha256.size(), 64u);
    ASSERT_EQ(git.size(), 40u);
    ASSERT_OK_AND_ASSIGN(std::shared_ptr<File> file, File::Open(path));
    for (bool mapped : {false, true}) {
      SCOPED_TRACE(mapped ? "mapped" : "read");
      HashOptions options;
      options.read_mapped = mapped;
      uint64_t reported = 0;
      options.on_bytes = [&](uint64_t bytes) { reported += bytes; };
      EXPECT_THAT(HashFile(*file, Digest::kSha256, options), IsOkAndHolds(sha256));
      EXPECT_EQ(reported, size);
      EXPECT_THAT(HashFile(*file, Digest::kGitBlobId, options), IsOkAndHolds(git));
    }
  }
}

// A file cut short after it was opened: data loss, not a digest of what is
// left (which would read as a plain mismatch).
TEST(HashFileTest, AFileThatShrankIsDataLoss) {
  const std::string path = WriteTempFile("hash_shrinks", PatternedBytes(70 << 20));
  ASSERT_OK_AND_ASSIGN(std::shared_ptr<File> file, File::Open(path));
  ASSERT_EQ(::truncate(path.c_str(), 20 << 20), 0);
  absl::StatusOr<std::string> hex = HashFile(*file, Digest::kSha256);
  EXPECT_THAT(hex, HasErrorCode(ErrorCode::kFileTruncated));
  EXPECT_THAT(std::string(hex.status().message()), HasSubstr("ended at byte 20971520 (it had 73400320"));
  // Through a mapping, the lost pages raise SIGBUS: the guard turns it into
  // the same error instead of a crash.
  HashOptions mapped;
  mapped.read_mapped = true;
  absl::StatusOr<std::string> from_mapping = HashFile(*file, Digest::kSha256, mapped);
  EXPECT_THAT(from_mapping, HasErrorCode(ErrorCode::kFileTruncated));
  EXPECT_THAT(std::string(from_mapping.status().message()),
              HasSubstr("ended at byte 20971520 (it had 73400320"));
  // And again: the guard holds for every read, not only the first.
  EXPECT_THAT(HashFile(*file, Digest::kGitBlobId, mapped), HasErrorCode(ErrorCode::kFileTruncated));
}

TEST(HashFileTest, Names) {
  EXPECT_EQ(DigestName(Digest::kSha256), "sha256");
  EXPECT_EQ(DigestName(Digest::kGitBlobId), "git-sha1");
  EXPECT_EQ(DigestHexLength(Digest::kSha256), 64u);
  EXPECT_EQ(DigestHexLength(Digest::kGitBlobId), 40u);
}

}  // namespace
}  // namespace safetensors

#include "io/file_hash.h"

#include <unistd.h>

#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "io/direct_read.h"
#include "io/test_util.h"
#include "parser/error.h"
#include "parser/status_matchers.h"
#include "testdata/test_files.h"

namespace safetensors {
namespace {

using ::safetensors::testing::DropFromPageCache;
using ::safetensors::testing::GitHashObjectOf;
using ::safetensors::testing::HasErrorCode;
using ::safetensors::testing::Sha256sumOf;
using ::safetensors::testing::IsOkAndHolds;
using ::safetensors::testing::PatternedBytes;
using ::safetensors::testing::WriteTempFile;
using ::testing::HasSubstr;

// Sizes around the 64 KiB reads, the 4 MiB direct pieces, the 128 MiB ring
// and the 16 MiB and 64 MiB prefetch steps, through each of the three ways
// of reading: the digests are sha256sum's and git hash-object's.
TEST(HashFileTest, AgreesWithSha256sumAndGitHashObject) {
  constexpr size_t kMiB = size_t{1} << 20;
  for (size_t size : {size_t{0}, size_t{1}, size_t{4095}, size_t{4096}, size_t{100000},
                      size_t{65535}, size_t{65536}, size_t{65537}, 4 * kMiB, 4 * kMiB + 1, 16 * kMiB - 1, 16 * kMiB + 1,
                      83 * kMiB + 7, 132 * kMiB + 9}) {
    SCOPED_TRACE(size);
    const std::string path = WriteTempFile(absl::StrCat("hash_", size), PatternedBytes(size));
    const std::string sha256 = Sha256sumOf(path);
    const std::string git = GitHashObjectOf(path);
    ASSERT_EQ(sha256.size(), 64u);
    ASSERT_EQ(git.size(), 40u);
    ASSERT_OK_AND_ASSIGN(std::shared_ptr<File> file, File::Open(path));
    for (const char* mode : {"read", "mapped", "direct"}) {
      SCOPED_TRACE(mode);
      HashOptions options;
      options.read_mapped = absl::string_view(mode) == "mapped";
      options.direct_io = absl::string_view(mode) == "direct" ? DirectIo::kAlways : DirectIo::kNever;
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
  for (DirectIo direct_io : {DirectIo::kNever, DirectIo::kAlways}) {
    HashOptions read;
    read.direct_io = direct_io;
    absl::StatusOr<std::string> hex = HashFile(*file, Digest::kSha256, read);
    EXPECT_THAT(hex, HasErrorCode(ErrorCode::kFileTruncated));
    EXPECT_THAT(std::string(hex.status().message()),
                HasSubstr("ended at byte 20971520 (it had 73400320"));
  }
  // Through a mapping, the lost pages raise SIGBUS: the guard turns it into
  // the same error instead of a crash.
  HashOptions mapped;
  mapped.read_mapped = true;
  mapped.direct_io = DirectIo::kNever;
  absl::StatusOr<std::string> from_mapping = HashFile(*file, Digest::kSha256, mapped);
  EXPECT_THAT(from_mapping, HasErrorCode(ErrorCode::kFileTruncated));
  EXPECT_THAT(std::string(from_mapping.status().message()),
              HasSubstr("ended at byte 20971520 (it had 73400320"));
  // And again: the guard holds for every read, not only the first.
  EXPECT_THAT(HashFile(*file, Digest::kGitBlobId, mapped), HasErrorCode(ErrorCode::kFileTruncated));
}

// A file not in the page cache is read around it (the default, kAuto) and
// so stays out of it; hashed through the cache it would fill it, as the
// second half shows.
TEST(HashFileTest, AColdFileIsReadAroundThePageCache) {
  const std::string path = WriteTempFile("hash_cold", PatternedBytes((37 << 20) + 5));
  ASSERT_OK_AND_ASSIGN(std::shared_ptr<File> file, File::Open(path));
  const auto cached_pages = [&] {
    size_t cached = 0;
    for (unsigned char page : CachedPages(*file)) cached += page & 1u;
    return cached;
  };
  ASSERT_TRUE(DropFromPageCache(file->fd()));
  ASSERT_EQ(cached_pages(), 0u);
  for (bool mapped : {false, true}) {
    HashOptions options;
    options.read_mapped = mapped;
    ASSERT_OK_AND_ASSIGN(std::string hex, HashFile(*file, Digest::kSha256, options));
    EXPECT_EQ(cached_pages(), 0u) << (mapped ? "mapped" : "read");
    EXPECT_EQ(hex, Sha256sumOf(path));  // reads the file into the cache
    ASSERT_TRUE(DropFromPageCache(file->fd()));
  }
  HashOptions through_cache;
  through_cache.direct_io = DirectIo::kNever;
  ASSERT_OK(HashFile(*file, Digest::kSha256, through_cache).status());
  EXPECT_GT(cached_pages(), 0u);
}

// Files hashed at once through one pool of readers (as VerifyFiles does),
// more of them than the pool lends ring buffers to at a time, and each
// twice so the second round reuses the first's buffers; one of the files
// shrank, and its error leaves the others' digests right.
TEST(HashFileTest, FilesHashedAtOnceShareOnePool) {
  constexpr size_t kMiB = size_t{1} << 20;
  const std::vector<size_t> sizes = {1, 4 * kMiB + 1, 9 * kMiB, 33 * kMiB + 5, 5 * kMiB,
                                     131 * kMiB + 9, 12 * kMiB + 4095};
  std::vector<std::string> paths, expected;
  std::vector<std::shared_ptr<File>> files;
  for (size_t i = 0; i < sizes.size(); ++i) {
    paths.push_back(WriteTempFile(absl::StrCat("hash_pool_", i), PatternedBytes(sizes[i] + i)));
    expected.push_back(Sha256sumOf(paths.back()));
    ASSERT_OK_AND_ASSIGN(std::shared_ptr<File> file, File::Open(paths.back()));
    files.push_back(std::move(file));
  }
  const size_t shrunk = 3;
  ASSERT_EQ(::truncate(paths[shrunk].c_str(), 20 << 20), 0);

  HashReadPool pool;
  std::vector<absl::StatusOr<std::string>> first(files.size()), second(files.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < files.size(); ++i) {
    threads.emplace_back([&, i] {
      HashOptions options;
      options.direct_io = DirectIo::kAlways;
      options.read_pool = &pool;
      first[i] = HashFile(*files[i], Digest::kSha256, options);
      second[i] = HashFile(*files[i], Digest::kSha256, options);
    });
  }
  for (std::thread& t : threads) t.join();
  for (size_t i = 0; i < files.size(); ++i) {
    SCOPED_TRACE(sizes[i]);
    if (i == shrunk) {
      EXPECT_THAT(first[i], HasErrorCode(ErrorCode::kFileTruncated));
      EXPECT_THAT(second[i], HasErrorCode(ErrorCode::kFileTruncated));
      continue;
    }
    EXPECT_THAT(first[i], IsOkAndHolds(expected[i]));
    EXPECT_THAT(second[i], IsOkAndHolds(expected[i]));
  }
}

TEST(HashFileTest, Names) {
  EXPECT_EQ(DigestName(Digest::kSha256), "sha256");
  EXPECT_EQ(DigestName(Digest::kGitBlobId), "git-sha1");
  EXPECT_EQ(DigestHexLength(Digest::kSha256), 64u);
  EXPECT_EQ(DigestHexLength(Digest::kGitBlobId), 40u);
}

}  // namespace
}  // namespace safetensors

#include "io/direct_read.h"

#include <fcntl.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "io/test_util.h"
#include "parser/status_matchers.h"
#include "testdata/test_files.h"

namespace safetensors {
namespace {

using ::safetensors::testing::AlignedBuffer;
using ::safetensors::testing::DropFromPageCache;
using ::safetensors::testing::HasErrorCode;
using ::safetensors::testing::OpensForDirectReads;
using ::safetensors::testing::PatternedBytes;
using ::safetensors::testing::WriteTempFile;
using ::testing::HasSubstr;

std::string AsString(absl::Span<const uint8_t> bytes) {
  return std::string(bytes.begin(), bytes.end());
}

TEST(DirectReadsTest, NeverMeansNone) {
  ASSERT_OK_AND_ASSIGN(std::shared_ptr<File> file,
                       File::Open(WriteTempFile("never", PatternedBytes(3 * 4096))));
  EXPECT_EQ(DirectReads::Open(*file, DirectIo::kNever), nullptr);
}

TEST(DirectReadsTest, ReadsWholeBlocksAndTheLastOnePastTheEnd) {
  const std::string contents = PatternedBytes(5 * 4096 + 123);
  const std::string path = WriteTempFile("blocks", contents);
  if (!OpensForDirectReads(path)) GTEST_SKIP() << "no O_DIRECT on " << path;
  ASSERT_OK_AND_ASSIGN(std::shared_ptr<File> file, File::Open(path));
  std::unique_ptr<DirectReads> direct = DirectReads::Open(*file, DirectIo::kAlways);
  ASSERT_NE(direct, nullptr);
  EXPECT_TRUE(direct->Wants(4096, 100));

  AlignedBuffer middle(2 * 4096);
  ASSERT_OK_AND_ASSIGN(bool done, direct->ReadAt(4096, middle.span, 2 * 4096));
  ASSERT_TRUE(done);
  EXPECT_EQ(AsString(middle.span), contents.substr(4096, 2 * 4096));

  // The file ends 123 bytes into this buffer's second block.
  AlignedBuffer tail(2 * 4096);
  ASSERT_OK_AND_ASSIGN(done, direct->ReadAt(4 * 4096, tail.span, 4096 + 123));
  ASSERT_TRUE(done);
  EXPECT_EQ(AsString(tail.span.first(4096 + 123)), contents.substr(4 * 4096));
}

TEST(DirectReadsTest, AFileEndingBeforeTheNeededBytesFails) {
  const std::string path = WriteTempFile("short_direct", PatternedBytes(4096 + 10));
  if (!OpensForDirectReads(path)) GTEST_SKIP() << "no O_DIRECT on " << path;
  ASSERT_OK_AND_ASSIGN(std::shared_ptr<File> file, File::Open(path));
  std::unique_ptr<DirectReads> direct = DirectReads::Open(*file, DirectIo::kAlways);
  ASSERT_NE(direct, nullptr);
  AlignedBuffer buffer(2 * 4096);
  const absl::StatusOr<bool> read = direct->ReadAt(0, buffer.span, 4096 + 20);
  EXPECT_THAT(read.status(), HasErrorCode(ErrorCode::kFileTruncated));
  EXPECT_THAT(std::string(read.status().message()), HasSubstr("ended at byte 4106"));
}

// A read the kernel refuses (here: at an offset no device's blocks start at)
// reads nothing and turns direct reads off, so the caller's buffered reads
// take over; if this filesystem takes it anyway, the bytes must be right.
TEST(DirectReadsTest, ARefusedReadTurnsDirectReadsOff) {
  const std::string contents = PatternedBytes(4 * 4096);
  const std::string path = WriteTempFile("refused", contents);
  if (!OpensForDirectReads(path)) GTEST_SKIP() << "no O_DIRECT on " << path;
  ASSERT_OK_AND_ASSIGN(std::shared_ptr<File> file, File::Open(path));
  std::unique_ptr<DirectReads> direct = DirectReads::Open(*file, DirectIo::kAlways);
  ASSERT_NE(direct, nullptr);
  AlignedBuffer buffer(4096);
  ASSERT_OK_AND_ASSIGN(bool done, direct->ReadAt(1, buffer.span, 4096));
  if (done) {
    EXPECT_EQ(AsString(buffer.span), contents.substr(1, 4096));
    return;
  }
  EXPECT_EQ(AsString(buffer.span), std::string(4096, '\xEE'));
  EXPECT_FALSE(direct->Wants(0, 4096));
  ASSERT_OK_AND_ASSIGN(done, direct->ReadAt(0, buffer.span, 4096));
  EXPECT_FALSE(done);
}

// kAuto reads directly only what the page cache does not hold: nothing of a
// file just read whole; of one dropped from the cache and then read in part,
// the ranges whose sampled pages were mostly not read.
TEST(DirectReadsTest, AutoFollowsThePageCache) {
  const std::string contents = PatternedBytes(64 * 4096);
  const std::string path = WriteTempFile("auto", contents);
  if (!OpensForDirectReads(path)) GTEST_SKIP() << "no O_DIRECT on " << path;
  ASSERT_OK_AND_ASSIGN(std::shared_ptr<File> file, File::Open(path));
  std::vector<uint8_t> page(4096);
  for (uint64_t at = 0; at < contents.size(); at += page.size()) {
    ASSERT_OK(file->ReadAt(at, absl::MakeSpan(page)));
  }
  EXPECT_EQ(DirectReads::Open(*file, DirectIo::kAuto), nullptr) << "every page is cached";

  // Dropped whole (written back first: only clean pages drop), then the
  // first half read again a page at a time, without readahead.
  ASSERT_TRUE(DropFromPageCache(file->fd()));
  const auto in_cache = [&file](size_t from, size_t to) {
    const std::vector<unsigned char> cached = CachedPages(*file);
    EXPECT_EQ(cached.size(), 64u);
    return std::count_if(cached.begin() + static_cast<long>(from),
                         cached.begin() + static_cast<long>(to),
                         [](unsigned char c) { return (c & 1u) != 0; });
  };
  if (in_cache(0, 64) != 0) GTEST_SKIP() << "this filesystem keeps dropped pages (tmpfs)";
  {
    std::unique_ptr<DirectReads> direct = DirectReads::Open(*file, DirectIo::kAuto);
    ASSERT_NE(direct, nullptr);
    EXPECT_TRUE(direct->Wants(0, contents.size()));
  }
  ASSERT_EQ(::posix_fadvise(file->fd(), 0, 0, POSIX_FADV_RANDOM), 0);
  for (uint64_t at = 0; at < 32 * 4096; at += page.size()) {
    ASSERT_OK(file->ReadAt(at, absl::MakeSpan(page)));
  }
  ASSERT_EQ(in_cache(0, 32), 32);
  ASSERT_EQ(in_cache(32, 64), 0) << "read without readahead";

  std::unique_ptr<DirectReads> direct = DirectReads::Open(*file, DirectIo::kAuto);
  ASSERT_NE(direct, nullptr);
  EXPECT_FALSE(direct->Wants(0, 32 * 4096));
  EXPECT_TRUE(direct->Wants(32 * 4096, 32 * 4096));
  // Pages 16-47 are sampled at 20, 28, 36, 44; pages 24-55 at 28, 36, 44, 52.
  EXPECT_FALSE(direct->Wants(16 * 4096, 32 * 4096)) << "half cached: buffered";
  EXPECT_TRUE(direct->Wants(24 * 4096, 32 * 4096)) << "a quarter cached";
  EXPECT_FALSE(direct->Wants(31 * 4096, 4096));
  EXPECT_TRUE(direct->Wants(32 * 4096, 1));
  EXPECT_TRUE(direct->Wants(63 * 4096, 4096 + 999)) << "ranges past the end count what exists";
}

}  // namespace
}  // namespace safetensors

#include "io/file.h"

#include <unistd.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "io/test_util.h"
#include "parser/error.h"
#include "parser/status_matchers.h"
#include "testdata/test_files.h"

namespace safetensors {
namespace {

using ::safetensors::testing::AllSpecialFiles;
using ::safetensors::testing::HasErrorCode;
using ::safetensors::testing::IsOk;
using ::safetensors::testing::MakeSpecialFile;
using ::safetensors::testing::NewTempDir;
using ::safetensors::testing::SpecialFile;
using ::safetensors::testing::SpecialFileMessage;
using ::safetensors::testing::SpecialFileName;
using ::safetensors::testing::Watchdog;
using ::safetensors::testing::WriteTempFile;
using ::testing::HasSubstr;

// A FIFO, a socket, a device and a symlink loop are refused at once, with
// the path and what it is; none of them blocks (a FIFO's open would wait for
// a writer forever).
TEST(FileTest, OpenRefusesWhatIsNotARegularFileWithoutBlocking) {
  const std::string dir = NewTempDir("special");
  for (SpecialFile kind : AllSpecialFiles()) {
    SCOPED_TRACE(SpecialFileName(kind));
    const std::string path = dir + "/model.safetensors." + std::to_string(static_cast<int>(kind));
    MakeSpecialFile(kind, path);
    Watchdog watchdog(std::string("File::Open of a ") + SpecialFileName(kind));
    absl::StatusOr<std::shared_ptr<File>> file = File::Open(path);
    EXPECT_THAT(file, HasErrorCode(kind == SpecialFile::kSymlinkLoop ? ErrorCode::kIoError
                                                                     : ErrorCode::kNotRegularFile));
    EXPECT_THAT(std::string(file.status().message()), HasSubstr(QuoteForMessage(path)));
    EXPECT_THAT(std::string(file.status().message()), HasSubstr(SpecialFileMessage(kind)));
  }
  Watchdog watchdog("File::Open of /dev/zero and a directory");
  EXPECT_THAT(File::Open("/dev/zero"), HasErrorCode(ErrorCode::kNotRegularFile));
  absl::StatusOr<std::shared_ptr<File>> folder = File::Open(dir);
  EXPECT_THAT(folder, HasErrorCode(ErrorCode::kNotRegularFile));
  EXPECT_EQ(folder.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(folder.status().message()), HasSubstr("is a directory"));
}

// A symlink to a regular file (the hub cache's snapshots/ into blobs/) opens,
// and the descriptor reads normally: the non-blocking flag is gone.
TEST(FileTest, SymlinksToRegularFilesOpenAndRead) {
  const std::string target = WriteTempFile("blob", "0123456789");
  const std::string link = ::testing::TempDir() + "/snapshot_link";
  ::unlink(link.c_str());
  ASSERT_EQ(::symlink(target.c_str(), link.c_str()), 0);
  ASSERT_OK_AND_ASSIGN(std::shared_ptr<File> file, File::Open(link));
  EXPECT_EQ(file->size(), 10u);
  uint8_t bytes[4];
  ASSERT_OK(file->ReadAt(3, absl::MakeSpan(bytes)));
  EXPECT_EQ(std::string(bytes, bytes + 4), "3456");
}

// A file that shrinks after it was opened is data loss, for positioned reads
// and for a mapping made afterwards, naming the file and where it ended.
TEST(FileTest, AFileThatShrankIsDataLoss) {
  const std::string path = WriteTempFile("shrinks", std::string(8192, 'x'));
  ASSERT_OK_AND_ASSIGN(std::shared_ptr<File> file, File::Open(path));
  ASSERT_EQ(::truncate(path.c_str(), 5000), 0);
  std::vector<uint8_t> out(4096);
  const absl::Status read = file->ReadAt(4096, absl::MakeSpan(out));
  EXPECT_THAT(read, HasErrorCode(ErrorCode::kFileTruncated));
  EXPECT_EQ(read.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(read.message()), HasSubstr("ended at byte 5000 (it had 8192 bytes when opened); it shrank"));
  EXPECT_OK(file->ReadAt(0, absl::MakeSpan(out)));  // what is left still reads

  absl::StatusOr<std::shared_ptr<Mapping>> mapping = Mapping::Map(*file);
  EXPECT_THAT(mapping, HasErrorCode(ErrorCode::kFileTruncated));
  EXPECT_THAT(std::string(mapping.status().message()), HasSubstr("ended at byte 5000 (it had 8192 bytes when opened); it shrank"));
}

// Pages fetched for scattered reads are given back; pages cached before, and
// pages nobody asked for, are left as they were.
TEST(FileTest, ScatteredReadAheadLeavesThePageCacheAsItFoundIt) {
  const uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  const std::string path = WriteTempFile("scattered.bin", testing::PatternedBytes(static_cast<size_t>(64 * page)));
  const std::shared_ptr<File> file = *File::Open(path);
  const std::shared_ptr<Mapping> mapping = *Mapping::Map(*file);
  ASSERT_TRUE(testing::DropFromPageCache(file->fd()));
  const auto cached = [&](uint64_t p) { return (CachedPages(*file)[p] & 1u) != 0; };
  if (cached(5)) GTEST_SKIP() << "this filesystem keeps dropped pages (tmpfs)";
  uint8_t byte[1];
  ASSERT_THAT(file->ReadAt(40 * page, absl::MakeSpan(byte, 1)), IsOk());
  ASSERT_TRUE(cached(40));
  ASSERT_FALSE(cached(5));
  const absl::Span<uint8_t> bytes = mapping->bytes();
  const std::string expected = testing::PatternedBytes(static_cast<size_t>(64 * page));
  uint8_t first = 0, second = 0;
  {
    ScatteredReadAhead read_ahead(*file, mapping->bytes());
    read_ahead.WillRead(5 * page + 100, 30);
    read_ahead.WillRead(40 * page, 8);
    read_ahead.WillRead(64 * page, 8);  // past the end: nothing
    // Read as the zip reader reads them: through the mapping.
    first = bytes[5 * page + 100];
    second = bytes[40 * page];
    EXPECT_TRUE(cached(5));
  }
  EXPECT_FALSE(cached(5));
  EXPECT_TRUE(cached(40));
  // The mapping reads the file's bytes, before and after pages were given back.
  EXPECT_EQ(first, static_cast<uint8_t>(expected[5 * page + 100]));
  EXPECT_EQ(second, static_cast<uint8_t>(expected[40 * page]));
  EXPECT_EQ(bytes[5 * page + 100], static_cast<uint8_t>(expected[5 * page + 100]));
}

}  // namespace
}  // namespace safetensors

#include "io/parallel_read.h"

#include <unistd.h>

#include <fstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "parser/status_matchers.h"
#include "testdata/test_files.h"

namespace safetensors {
namespace {

using ::safetensors::testing::HasErrorCode;
using ::safetensors::testing::WriteTempFile;

TEST(ParallelReadTest, SplitsLargeBuffersIntoChunks) {
  std::vector<uint8_t> buffer(2 * kReadChunkBytes + 5);
  std::vector<ReadJob> jobs;
  AddReadJobs(100, absl::MakeSpan(buffer), jobs);
  ASSERT_EQ(jobs.size(), 3u);
  EXPECT_EQ(jobs[0].offset, 100u);
  EXPECT_EQ(jobs[1].offset, 100 + kReadChunkBytes);
  EXPECT_EQ(jobs[2].out.size(), 5u);
  EXPECT_EQ(jobs[2].out.data(), buffer.data() + 2 * kReadChunkBytes);
  jobs.clear();
  AddReadJobs(7, absl::Span<uint8_t>(), jobs);
  EXPECT_TRUE(jobs.empty());
}

TEST(ParallelReadTest, ThreadCount) {
  EXPECT_EQ(ThreadsForRead(3, 1), 3);
  EXPECT_EQ(ThreadsForRead(0, 1 << 20), 1);
  EXPECT_GE(ThreadsForRead(0, uint64_t{1} << 30), 1);
  EXPECT_LE(ThreadsForRead(0, uint64_t{1} << 30), 4);
}

TEST(ParallelReadTest, FillsEveryBufferOnAnyThreadCount) {
  std::string contents(1000, '\0');
  for (size_t i = 0; i < contents.size(); ++i) contents[i] = static_cast<char>(i * 7);
  ASSERT_OK_AND_ASSIGN(std::shared_ptr<File> file,
                       File::Open(WriteTempFile("parallel", contents)));
  for (int threads : {1, 2, 8}) {
    std::vector<uint8_t> out(contents.size());
    std::vector<ReadJob> jobs;
    for (size_t at = 0; at < out.size(); at += 64) {
      const size_t n = std::min<size_t>(64, out.size() - at);
      jobs.push_back({at, absl::MakeSpan(out).subspan(at, n)});
    }
    ASSERT_OK(ReadInParallel(*file, jobs, threads));
    EXPECT_EQ(std::string(out.begin(), out.end()), contents) << threads;
  }
}

TEST(ParallelReadTest, AReadPastTheEndFailsTheWholeRead) {
  ASSERT_OK_AND_ASSIGN(std::shared_ptr<File> file, File::Open(WriteTempFile("short", "0123456789")));
  std::vector<uint8_t> a(4), b(8);
  const std::vector<ReadJob> jobs = {{0, absl::MakeSpan(a)}, {6, absl::MakeSpan(b)}};
  absl::Status status = ReadInParallel(*file, jobs, 2);
  EXPECT_THAT(status, HasErrorCode(ErrorCode::kIoError));
  EXPECT_THAT(status.message(), ::testing::HasSubstr("ended at byte 10"));
}

}  // namespace
}  // namespace safetensors

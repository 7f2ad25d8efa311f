#include "io/parallel_read.h"

#include <algorithm>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "parser/status_matchers.h"
#include "io/test_util.h"
#include "testdata/test_files.h"

namespace safetensors {
namespace {

using ::safetensors::testing::AlignedBuffer;
using ::safetensors::testing::HasErrorCode;
using ::safetensors::testing::PatternedBytes;
using ::safetensors::testing::WriteTempFile;
using ::testing::HasSubstr;

TEST(ReadPlanTest, CoalescesAdjacentBuffersAndSplitsLargeOnes) {
  std::vector<uint8_t> memory(100);
  ReadPlan plan(/*max_read_bytes=*/16, /*max_buffers=*/3);
  auto span = [&](size_t at, size_t n) { return absl::MakeSpan(memory).subspan(at, n); };
  plan.Add(0, span(0, 4), "a");    // read 0: a b c (3 buffers, 12 bytes)
  plan.Add(4, span(4, 4), "b");
  plan.Add(8, span(8, 4), "c");
  plan.Add(12, span(12, 4), "d");  // read 1: d, then the first 12 bytes of e
  plan.Add(16, span(16, 40), "e"); // then reads of 16, 12
  plan.Add(60, span(60, 0), "empty");
  plan.Add(70, span(70, 5), "f");  // not adjacent: a read of its own
  const auto& reads = plan.reads();
  ASSERT_EQ(reads.size(), 5u);
  EXPECT_EQ(reads[0].offset, 0u);
  EXPECT_EQ(reads[0].bytes, 12u);
  EXPECT_EQ(reads[0].buffers.size(), 3u);
  EXPECT_EQ(reads[0].labels, 3u);
  EXPECT_EQ(reads[1].offset, 12u);
  EXPECT_EQ(reads[1].bytes, 16u);
  EXPECT_EQ(reads[1].first_label, "d");
  EXPECT_EQ(reads[1].labels, 2u);
  EXPECT_EQ(reads[2].offset, 28u);
  EXPECT_EQ(reads[2].bytes, 16u);
  EXPECT_EQ(reads[2].first_label, "e");
  EXPECT_EQ(reads[3].bytes, 12u);
  EXPECT_EQ(reads[4].offset, 70u);
  EXPECT_EQ(plan.bytes(), 4u * 4 + 40 + 5);
}

TEST(ReadPlanTest, ABufferInAnAlignedWindowGetsReadsOfItsOwnWithDirectForms) {
  AlignedBuffer window(3 * 4096);
  const absl::Span<uint8_t> out = window.span.subspan(100, 8000);  // file bytes 4196..12196
  std::vector<uint8_t> before(4), after(4);
  ReadPlan plan(/*max_read_bytes=*/4096);
  plan.Add(4192, absl::MakeSpan(before), "before");
  plan.AddInWindow(4196, out, window.span, "w");
  plan.Add(12196, absl::MakeSpan(after), "after");  // adjacent, but not joined
  const auto& reads = plan.reads();
  ASSERT_EQ(reads.size(), 4u);
  EXPECT_TRUE(reads[0].direct.empty());
  EXPECT_EQ(reads[1].offset, 4196u);
  EXPECT_EQ(reads[1].bytes, 3996u);
  EXPECT_EQ(reads[1].buffers.size(), 1u);
  EXPECT_EQ(reads[1].buffers[0].data(), out.data());
  EXPECT_EQ(reads[1].direct_offset, 4096u);
  EXPECT_EQ(reads[1].direct.data(), window.span.data());
  EXPECT_EQ(reads[1].direct.size(), 4096u);
  EXPECT_EQ(reads[2].offset, 8192u);
  EXPECT_EQ(reads[2].bytes, 4004u);
  EXPECT_EQ(reads[2].direct_offset, 8192u);
  EXPECT_EQ(reads[2].direct.size(), 4096u);  // the window's third block holds no byte of out
  EXPECT_EQ(reads[3].offset, 12196u);
  EXPECT_TRUE(reads[3].direct.empty());
  EXPECT_EQ(plan.items(), 3u);
  EXPECT_EQ(plan.pieces()[1], 2u);
  EXPECT_EQ(plan.bytes(), 8008u);

  // A window whose start is not at a block of the file: a plain Add.
  ReadPlan unaligned(/*max_read_bytes=*/4096);
  unaligned.AddInWindow(4197, out, window.span, "w");
  ASSERT_EQ(unaligned.reads().size(), 2u);
  EXPECT_TRUE(unaligned.reads()[0].direct.empty());
  EXPECT_EQ(unaligned.reads()[0].offset, 4197u);
}

// Reports never go backwards, and the last says everything is done.
void ExpectMonotonicAndComplete(const std::vector<ReadProgress>& reports, uint64_t bytes,
                                uint64_t tensors) {
  ASSERT_FALSE(reports.empty());
  for (size_t i = 0; i < reports.size(); ++i) {
    EXPECT_EQ(reports[i].bytes_total, bytes);
    EXPECT_EQ(reports[i].tensors_total, tensors);
    EXPECT_LE(reports[i].bytes_done, bytes);
    EXPECT_LE(reports[i].tensors_done, tensors);
    if (i > 0) {
      EXPECT_GE(reports[i].bytes_done, reports[i - 1].bytes_done);
      EXPECT_GE(reports[i].tensors_done, reports[i - 1].tensors_done);
    }
  }
  EXPECT_EQ(reports.back().bytes_done, bytes);
  EXPECT_EQ(reports.back().tensors_done, tensors);
}

// Random layouts (as a safetensors file tiles its data buffer, with gaps now
// and then as a filter leaves tensors out), random limits: the plan reads
// exactly what a naive per-buffer read would, every read within the limits.
TEST(ReadPlanTest, AgreesWithANaiveLoaderOnRandomLayouts) {
  std::mt19937 random(2026);
  const std::string contents = PatternedBytes(1 << 16);
  ASSERT_OK_AND_ASSIGN(std::shared_ptr<File> file, File::Open(WriteTempFile("plan", contents)));
  // Direct reads wherever a read has a direct form, if this filesystem has
  // them (else the windows' reads are buffered ones).
  const std::unique_ptr<DirectReads> direct = DirectReads::Open(*file, DirectIo::kAlways);
  for (int trial = 0; trial < 300; ++trial) {
    const uint64_t max_read = random() % 2 == 0 ? kDirectReadAlignment * (1 + random() % 3)
                                                : 1 + random() % 4096;
    const size_t max_buffers = 1 + random() % 8;
    std::vector<std::pair<uint64_t, uint64_t>> ranges;  // offset, size
    uint64_t offset = random() % 64;
    while (ranges.size() < 200) {
      const uint64_t size = random() % 4 == 0 ? random() % 10000 : random() % 100;
      if (offset + size > contents.size()) break;
      ranges.emplace_back(offset, size);
      offset += size + (random() % 10 == 0 ? random() % 50 : 0);
    }
    std::vector<std::vector<uint8_t>> ours(ranges.size());
    std::vector<std::unique_ptr<AlignedBuffer>> windows(ranges.size());
    std::vector<absl::Span<uint8_t>> outs(ranges.size());
    std::vector<std::string> labels(ranges.size());
    ReadPlan plan(max_read, max_buffers);
    for (size_t i = 0; i < ranges.size(); ++i) {
      labels[i] = "t" + std::to_string(i);
      // Some buffers in windows, as the pread backend's large tensors are:
      // direct reads when the limit is a whole number of blocks.
      if (random() % 3 == 0) {
        const uint64_t lead = ranges[i].first % kDirectReadAlignment;
        const uint64_t blocks = (lead + ranges[i].second + kDirectReadAlignment - 1) /
                                kDirectReadAlignment;
        windows[i] = std::make_unique<AlignedBuffer>(
            std::max<uint64_t>(blocks, 1) * kDirectReadAlignment);
        outs[i] = windows[i]->span.subspan(lead, ranges[i].second);
        plan.AddInWindow(ranges[i].first, outs[i], windows[i]->span, labels[i]);
      } else {
        ours[i].assign(ranges[i].second, 0);
        outs[i] = absl::MakeSpan(ours[i]);
        plan.Add(ranges[i].first, outs[i], labels[i]);
      }
    }
    for (const ReadPlan::Read& read : plan.reads()) {
      EXPECT_LE(read.bytes, max_read);
      EXPECT_LE(read.buffers.size(), max_buffers);
      uint64_t sum = 0;
      for (const auto& b : read.buffers) sum += b.size();
      EXPECT_EQ(sum, read.bytes);
      if (!read.direct.empty()) {
        EXPECT_EQ(read.buffers.size(), 1u);
        EXPECT_LE(read.direct_offset, read.offset);
        EXPECT_GE(read.direct_offset + read.direct.size(), read.offset + read.bytes);
        EXPECT_EQ(read.direct.data() + (read.offset - read.direct_offset),
                  read.buffers[0].data());
      }
    }
    std::vector<ReadProgress> reports;
    ReadProgressTracker progress([&](const ReadProgress& p) { reports.push_back(p); },
                                 plan.bytes(), plan.items());
    const FileReadPlan plans[] = {{file.get(), &plan, {}, direct.get()}};
    ASSERT_OK(ReadInParallel(plans, 1 + trial % 3, &progress));
    ExpectMonotonicAndComplete(reports, plan.bytes(), ranges.size());
    for (size_t i = 0; i < ranges.size(); ++i) {
      ASSERT_EQ(std::string(outs[i].begin(), outs[i].end()),
                contents.substr(ranges[i].first, ranges[i].second))
          << "trial " << trial << ", buffer " << i;
    }
  }
}

// A tensor split over several reads is done when its last piece is, not
// before: with one thread, reads complete in order, so the count is exact.
TEST(ReadPlanTest, ATensorIsDoneWhenItsLastPieceIsRead) {
  const std::string contents = PatternedBytes(100);
  ASSERT_OK_AND_ASSIGN(std::shared_ptr<File> file, File::Open(WriteTempFile("pieces", contents)));
  std::vector<uint8_t> big(40), small(4), empty;
  ReadPlan plan(/*max_read_bytes=*/16);
  plan.Add(0, absl::MakeSpan(big), "big");      // reads of 16, 16, 8 (+ small's 4)
  plan.Add(40, absl::MakeSpan(small), "small");
  plan.Add(44, absl::MakeSpan(empty), "empty");
  EXPECT_EQ(plan.items(), 3u);
  std::vector<ReadProgress> reports;
  ReadProgressTracker progress([&](const ReadProgress& p) { reports.push_back(p); },
                               plan.bytes(), plan.items());
  ASSERT_OK(ReadInParallel(*file, plan, 1, &progress));
  ASSERT_EQ(reports.size(), 4u);  // the empty item first, then each read
  EXPECT_EQ(reports[0].tensors_done, 1u);
  EXPECT_EQ(reports[1].tensors_done, 1u);
  EXPECT_EQ(reports[2].tensors_done, 1u);
  EXPECT_EQ(reports[3].tensors_done, 3u);  // big and small end in the last read
  EXPECT_EQ(reports[3].bytes_done, 44u);
}

// Several files' plans run as one: every buffer filled from its own file,
// progress over all of them, and a failure in any file is the one status.
TEST(ReadPlanTest, SeveralFilesReadTogether) {
  const std::string a = PatternedBytes(5000), b = PatternedBytes(7000).substr(1000);
  ASSERT_OK_AND_ASSIGN(std::shared_ptr<File> fa, File::Open(WriteTempFile("a", a)));
  ASSERT_OK_AND_ASSIGN(std::shared_ptr<File> fb, File::Open(WriteTempFile("b", b)));
  for (int threads : {1, 2, 3}) {
    std::vector<uint8_t> from_a(5000), from_b(6000);
    ReadPlan plan_a(/*max_read_bytes=*/700), plan_b(/*max_read_bytes=*/900);
    plan_a.Add(0, absl::MakeSpan(from_a), "in_a");
    plan_b.Add(0, absl::MakeSpan(from_b).first(3000), "b1");
    plan_b.Add(3000, absl::MakeSpan(from_b).subspan(3000), "b2");
    const FileReadPlan plans[] = {{fa.get(), &plan_a}, {fb.get(), &plan_b}};
    std::vector<ReadProgress> reports;
    ReadProgressTracker progress([&](const ReadProgress& p) { reports.push_back(p); }, 11000, 3);
    ASSERT_OK(ReadInParallel(plans, threads, &progress));
    EXPECT_EQ(std::string(from_a.begin(), from_a.end()), a);
    EXPECT_EQ(std::string(from_b.begin(), from_b.end()), b);
    ExpectMonotonicAndComplete(reports, 11000, 3);

    std::vector<uint8_t> past_end(100);
    ReadPlan bad;
    bad.Add(5950, absl::MakeSpan(past_end), "past_end");
    const FileReadPlan with_bad[] = {{fa.get(), &plan_a}, {fb.get(), &bad}, {fb.get(), &plan_b}};
    absl::Status status = ReadInParallel(with_bad, threads);
    EXPECT_THAT(status, HasErrorCode(ErrorCode::kFileTruncated));
    EXPECT_THAT(status.message(), HasSubstr("reading tensor \"past_end\""));
  }
}

// A direct read that finds the file shorter than the header said fails the
// whole read as a buffered one does, naming the tensor.
TEST(ReadPlanTest, AShortFileFailsADirectReadNamingTheTensor) {
  const std::string contents = PatternedBytes(3 * 4096);
  ASSERT_OK_AND_ASSIGN(std::shared_ptr<File> file,
                       File::Open(WriteTempFile("short_direct", contents)));
  const std::unique_ptr<DirectReads> direct = DirectReads::Open(*file, DirectIo::kAlways);
  if (direct == nullptr) GTEST_SKIP() << "no O_DIRECT for " << file->path();
  for (int threads : {1, 2}) {
    AlignedBuffer window(4 * 4096);
    ReadPlan plan(/*max_read_bytes=*/8192);
    plan.AddInWindow(10, window.span.subspan(10, 4 * 4096 - 20), window.span, "cut");
    const FileReadPlan plans[] = {{file.get(), &plan, {}, direct.get()}};
    absl::Status status = ReadInParallel(plans, threads);
    EXPECT_THAT(status, HasErrorCode(ErrorCode::kFileTruncated));
    EXPECT_THAT(std::string(status.message()), HasSubstr("reading tensor \"cut\""));
    EXPECT_THAT(std::string(status.message()), HasSubstr("ended at byte 12288"));
  }
}

TEST(ReadPlanTest, ThreadCount) {
  EXPECT_EQ(ThreadsForRead(3, 1), 3);
  EXPECT_EQ(ThreadsForRead(0, 1 << 20), 1);
  EXPECT_GE(ThreadsForRead(0, uint64_t{1} << 30), 1);
  EXPECT_LE(ThreadsForRead(0, uint64_t{1} << 30), 4);
}

// A truncated file fails the whole read once, naming the file, the offset and
// the tensor whose read failed, on any number of threads.
TEST(ReadPlanTest, AShortFileFailsTheWholeReadNamingTheTensor) {
  ASSERT_OK_AND_ASSIGN(std::shared_ptr<File> file, File::Open(WriteTempFile("short", "0123456789")));
  for (int threads : {1, 2, 4}) {
    std::vector<uint8_t> a(4), b(4), c(8);
    ReadPlan plan(/*max_read_bytes=*/8);
    plan.Add(0, absl::MakeSpan(a), "a");
    plan.Add(4, absl::MakeSpan(b), "b");
    plan.Add(8, absl::MakeSpan(c), "c");  // bytes 8..16 of a 10-byte file
    absl::Status status = ReadInParallel(*file, plan, threads);
    EXPECT_THAT(status, HasErrorCode(ErrorCode::kFileTruncated));
    EXPECT_THAT(status.message(), HasSubstr("reading tensor \"c\""));
    EXPECT_THAT(status.message(), HasSubstr("ended at byte 10"));
  }
}

}  // namespace
}  // namespace safetensors

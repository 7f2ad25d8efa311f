#include "torch_io/load.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include <ATen/ops/arange.h>
#include <ATen/ops/equal.h>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "io/direct_read.h"
#include "io/file.h"
#include "io/test_util.h"
#include "parser/error.h"
#include "parser/status_matchers.h"
#include "testdata/golden_manifest.h"
#include "testdata/test_files.h"
#include "torch_io/safe_open.h"
#include "torch_io/save.h"
#include "torch_io/testing/test_util.h"

namespace safetensors {
namespace {

using ::safetensors::testing::DropFromPageCache;
using ::safetensors::testing::GoldenFile;
using ::safetensors::testing::GoldenTensor;
using ::safetensors::testing::HasErrorCode;
using ::safetensors::testing::OpensForDirectReads;
using ::safetensors::testing::PatternedBytes;
using ::safetensors::testing::PythonDtypeName;
using ::safetensors::testing::ReadGoldenManifest;
using ::safetensors::testing::ReadTestFile;
using ::safetensors::testing::TensorSha256;
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;

void ExpectMatchesManifest(const GoldenTensor& want, const at::Tensor& got) {
  SCOPED_TRACE(want.name);
  EXPECT_EQ(PythonDtypeName(got.scalar_type()), want.torch_dtype);
  EXPECT_THAT(got.sizes().vec(), ElementsAreArray(want.torch_shape));
  EXPECT_EQ(TensorSha256(got), want.sha256);
}

void ExpectDictMatches(const GoldenFile& golden, const TensorDict& tensors) {
  ASSERT_EQ(tensors.size(), golden.tensors.size());
  for (size_t i = 0; i < golden.tensors.size(); ++i) {
    // File (offset) order, as the reference's load_file returns it.
    EXPECT_EQ(tensors.keys()[i], golden.tensors[i].name);
    ExpectMatchesManifest(golden.tensors[i], tensors.values()[i]);
  }
}

TEST(LoadTest, LoadFileReproducesEveryGoldenTensorWithBothBackends) {
  for (const GoldenFile& golden : ReadGoldenManifest()) {
    SCOPED_TRACE(golden.path);
    for (Backend backend : {Backend::kMmap, Backend::kPread}) {
      LoadOptions options;
      options.backend = backend;
      ASSERT_OK_AND_ASSIGN(TensorDict tensors, load_file(golden.path, "cpu", options));
      ExpectDictMatches(golden, tensors);
    }
  }
}

TEST(LoadTest, LoadFromBytesReproducesEveryGoldenTensor) {
  for (const GoldenFile& golden : ReadGoldenManifest()) {
    SCOPED_TRACE(golden.path);
    std::string bytes = ReadTestFile(golden.path);
    ASSERT_OK_AND_ASSIGN(TensorDict tensors, load(bytes));
    bytes.assign(bytes.size(), '\0');  // the tensors own their memory
    ExpectDictMatches(golden, tensors);
  }
}

TEST(LoadTest, SafeOpenReproducesEveryGoldenTensorAndItsLayout) {
  for (const GoldenFile& golden : ReadGoldenManifest()) {
    SCOPED_TRACE(golden.path);
    ASSERT_OK_AND_ASSIGN(SafeOpen f, safe_open(golden.path));
    std::vector<std::string> sorted;
    for (const GoldenTensor& t : golden.tensors) sorted.push_back(t.name);
    std::sort(sorted.begin(), sorted.end());
    EXPECT_EQ(f.keys(), sorted);
    for (const GoldenTensor& want : golden.tensors) {
      ASSERT_OK_AND_ASSIGN(at::Tensor got, f.get_tensor(want.name));
      ExpectMatchesManifest(want, got);
      ASSERT_OK_AND_ASSIGN(TensorSlice slice, f.get_slice(want.name));
      EXPECT_EQ(slice.get_dtype(), want.dtype);
      EXPECT_EQ(slice.get_shape(), want.shape);
    }
    EXPECT_EQ(f.metadata().has_value(), golden.metadata.has_value());
  }
}

TEST(LoadTest, MmapTensorsAreCopyOnWriteAndOutliveTheirHandle) {
  const std::string path = ::testing::TempDir() + "/cow.safetensors";
  TensorDict original;
  original.insert("x", at::arange(16, at::TensorOptions().dtype(at::kFloat)));
  ASSERT_OK(save_file(original, path));
  const std::string before = ReadTestFile(path);
  at::Tensor x;
  {
    ASSERT_OK_AND_ASSIGN(TensorDict loaded, load_file(path));
    x = loaded["x"];
  }  // the dict and handle are gone; the mapping lives on in `x`
  EXPECT_TRUE(at::equal(x, original["x"]));
  x.fill_(7.0);  // writes to the private mapping, never to the file
  EXPECT_EQ(ReadTestFile(path), before);
  ASSERT_OK_AND_ASSIGN(TensorDict again, load_file(path));
  EXPECT_TRUE(at::equal(again["x"], original["x"]));
}

TEST(LoadTest, OverwritingAMappedFileKeepsOldTensorsIntact) {
  const std::string path = ::testing::TempDir() + "/replace.safetensors";
  TensorDict first, second;
  first.insert("x", at::arange(1000, at::TensorOptions().dtype(at::kLong)));
  second.insert("x", at::arange(1000, at::TensorOptions().dtype(at::kLong)).mul(3));
  ASSERT_OK(save_file(first, path));
  ASSERT_OK_AND_ASSIGN(TensorDict mapped, load_file(path));
  ASSERT_OK(save_file(second, path));
  EXPECT_TRUE(at::equal(mapped["x"], first["x"]));
  ASSERT_OK_AND_ASSIGN(TensorDict reloaded, load_file(path));
  EXPECT_TRUE(at::equal(reloaded["x"], second["x"]));
}

TEST(LoadTest, MisalignedTensorsAreCopiedNotReadMisaligned) {
  // A 7-byte-aligned header puts F64 data at an odd address in the mapping.
  const std::string path = "testdata/conformance/files/valid_misaligned_header_7.safetensors";
  ASSERT_OK_AND_ASSIGN(TensorDict mmap, load_file(path));
  LoadOptions pread;
  pread.backend = Backend::kPread;
  ASSERT_OK_AND_ASSIGN(TensorDict owned, load_file(path, "cpu", pread));
  ASSERT_GT(mmap.size(), 0u);
  for (size_t i = 0; i < mmap.size(); ++i) {
    const at::Tensor t = mmap[mmap.keys()[i]];
    EXPECT_EQ(reinterpret_cast<uintptr_t>(t.data_ptr()) % static_cast<uintptr_t>(t.element_size()), 0u);
    EXPECT_TRUE(at::equal(t, owned.values()[i]));
  }
}

TEST(LoadTest, FilterSelectsTensorsByRe2Pattern) {
  const std::string path = "testdata/golden/mixed_alignment.safetensors";
  LoadOptions options;
  options.tensor_filter = "^[bd]_";
  ASSERT_OK_AND_ASSIGN(TensorDict tensors, load_file(path, "cpu", options));
  EXPECT_THAT(tensors.keys(), ElementsAre("d_f32", "b_u8"));
  ASSERT_OK_AND_ASSIGN(SafeOpen f, safe_open(path, "cpu", options));
  EXPECT_THAT(f.keys(), ElementsAre("b_u8", "d_f32"));
  EXPECT_THAT(f.get_tensor("a_bool"), HasErrorCode(ErrorCode::kTensorNotFound));
  ASSERT_OK_AND_ASSIGN(TensorDict from_bytes, load(ReadTestFile(path), options));
  EXPECT_THAT(from_bytes.keys(), ElementsAre("d_f32", "b_u8"));
  options.tensor_filter = "(unclosed";
  EXPECT_THAT(load_file(path, "cpu", options), HasErrorCode(ErrorCode::kBadArgument));
  EXPECT_THAT(load(ReadTestFile(path), options), HasErrorCode(ErrorCode::kBadArgument));
}

TEST(LoadTest, DevicesThisBuildCannotUseAreClearErrors) {
  const std::string path = "testdata/golden/scalars.safetensors";
  EXPECT_OK(load_file(path, "cpu"));
  EXPECT_OK(load_file(path, c10::Device(c10::kCPU)));
  for (DeviceSpec bad : {DeviceSpec("cuda"), DeviceSpec("cuda:1"), DeviceSpec(0),
                         DeviceSpec("gpu"), DeviceSpec(""), DeviceSpec(-1),
                         DeviceSpec("mps")}) {
    absl::StatusOr<TensorDict> result = load_file(path, bad);
    if (bad.Resolve().ok()) continue;  // a machine with that device
    EXPECT_THAT(result, HasErrorCode(ErrorCode::kBadArgument));
  }
  EXPECT_THAT(load_file(path, "cuda:0"), HasErrorCode(ErrorCode::kBadArgument));
}

TEST(LoadTest, MissingFilesAndTensorsAreNamed) {
  absl::StatusOr<TensorDict> missing = load_file("testdata/no_such.safetensors");
  EXPECT_THAT(missing, HasErrorCode(ErrorCode::kIoError));
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(load_file("testdata"), HasErrorCode(ErrorCode::kNotRegularFile));
  ASSERT_OK_AND_ASSIGN(SafeOpen f, safe_open("testdata/golden/scalars.safetensors"));
  absl::StatusOr<at::Tensor> t = f.get_tensor("nope");
  EXPECT_THAT(t, HasErrorCode(ErrorCode::kTensorNotFound));
  EXPECT_EQ(t.status().code(), absl::StatusCode::kNotFound);
}

TEST(LoadTest, PreadUsesThreadsForLargeFilesAndMatchesMmap) {
  const std::string path = ::testing::TempDir() + "/large.safetensors";
  TensorDict tensors;
  tensors.insert("big", at::arange(int64_t{40} << 20, at::TensorOptions().dtype(at::kByte)));
  tensors.insert("small", at::arange(3, at::TensorOptions().dtype(at::kFloat)));
  ASSERT_OK(save_file(tensors, path));
  LoadOptions options;
  options.backend = Backend::kPread;
  for (int threads : {1, 3}) {
    options.threads = threads;
    ASSERT_OK_AND_ASSIGN(TensorDict loaded, load_file(path, "cpu", options));
    EXPECT_TRUE(at::equal(loaded["big"], tensors["big"]));
    EXPECT_TRUE(at::equal(loaded["small"], tensors["small"]));
  }
}

// Tensors of 2 MiB and more get memory of their own, 2 MiB-aligned (for
// transparent huge pages): their values and lifetimes are as any tensor's,
// for sizes around the page boundaries.
TEST(LoadTest, LargeTensorsGetHugePageAlignedMemory) {
  const std::string path = ::testing::TempDir() + "/huge_pages.safetensors";
  TensorDict tensors;
  const int64_t mib = int64_t{1} << 20;
  for (int64_t bytes : {2 * mib - 1, 2 * mib, 2 * mib + 1, 5 * mib + 4095, 6 * mib}) {
    tensors.insert(absl::StrCat("t", bytes),
                   at::arange(bytes, at::TensorOptions().dtype(at::kInt)).to(at::kByte));
  }
  ASSERT_OK(save_file(tensors, path));
  LoadOptions options;
  options.backend = Backend::kPread;
  TensorDict loaded;
  {
    ASSERT_OK_AND_ASSIGN(loaded, load_file(path, "cpu", options));
  }
  for (const auto& item : tensors) {
    const at::Tensor& ours = loaded[item.key()];
    EXPECT_TRUE(at::equal(ours, item.value())) << item.key();
    const auto address = reinterpret_cast<uintptr_t>(ours.data_ptr());
    if (ours.nbytes() >= static_cast<size_t>(2 * mib)) {
      EXPECT_EQ(address % (2 * mib), 0u) << item.key();
    }
  }
  // The memory outlives everything but the tensor, and is freed with it.
  at::Tensor kept = loaded["t6291456"];
  loaded = TensorDict();
  EXPECT_EQ(kept[6 * mib - 1].item<uint8_t>(), static_cast<uint8_t>((6 * mib - 1) & 0xFF));
}

// A file of large tensors at file offsets of every alignment: after a
// 3-byte tensor, an F32 that no address congruent to its offset could hold
// aligned, and others that direct reads can fill in place.
struct LayoutTensor {
  std::string name;
  std::string dtype;
  uint64_t element_size;
  uint64_t elements;
  uint64_t file_offset = 0;  // filled in by WriteLayoutFile
};

// Writes the tensors in order with a header of `header_bytes` (padded with
// spaces); returns the file's contents.
std::string WriteLayoutFile(const std::string& path, std::vector<LayoutTensor>& tensors,
                            size_t header_bytes) {
  std::string header = "{";
  uint64_t at = 0;
  for (const LayoutTensor& t : tensors) {
    const uint64_t bytes = t.elements * t.element_size;
    absl::StrAppend(&header, header.size() > 1 ? "," : "", "\"", t.name, "\":{\"dtype\":\"",
                    t.dtype, "\",\"shape\":[", t.elements, "],\"data_offsets\":[", at, ",",
                    at + bytes, "]}");
    at += bytes;
  }
  header += "}";
  EXPECT_LE(header.size(), header_bytes);
  header.resize(header_bytes, ' ');
  std::string file(8, '\0');
  for (size_t i = 0; i < 8; ++i) {
    file[i] = static_cast<char>((header_bytes >> (8 * i)) & 0xFF);
  }
  file += header;
  uint64_t offset = file.size();
  for (LayoutTensor& t : tensors) {
    t.file_offset = offset;
    offset += t.elements * t.element_size;
  }
  file += PatternedBytes(static_cast<size_t>(at));
  std::ofstream(path, std::ios::binary) << file;
  return file;
}

bool HoldsItsFileBytes(const at::Tensor& tensor, const std::string& file, uint64_t offset) {
  return std::string(static_cast<const char*>(tensor.data_ptr()), tensor.nbytes()) ==
         file.substr(static_cast<size_t>(offset), tensor.nbytes());
}

// Offsets from an 8-aligned data start, modulo 8: u8 0, bf16 6, small 4,
// f64 0, f32 0, odd 4, f32_misaligned 7. The tensors read buffered come last,
// so that their readahead (up to 8 MiB on this project's machine) does not
// bring in what the others read directly (kAuto asks the page cache as it
// goes, and copies what readahead brought).
std::vector<LayoutTensor> LargeTensorsAtEveryAlignment() {
  const uint64_t mib = 1 << 20;
  return {{"u8", "U8", 1, 2 * mib + 6},
          {"bf16", "BF16", 2, mib + 3},
          {"small", "U8", 1, 4},
          {"f64", "F64", 8, mib / 4 + 7},
          {"f32", "F32", 4, 3 * mib / 4 + 1},
          {"odd", "U8", 1, 3},
          {"f32_misaligned", "F32", 4, mib / 2 + 1}};
}

// Whatever the direct-read mode and threads, the pread backend's tensors hold
// the file's bytes, aligned for their dtype; with direct reads (kAlways),
// each large tensor that can sits at its file offset's place modulo 4096.
TEST(LoadTest, DirectReadsFillLargeTensorsInPlace) {
  std::vector<LayoutTensor> layout = LargeTensorsAtEveryAlignment();
  const std::string path = ::testing::TempDir() + "/direct.safetensors";
  const std::string file = WriteLayoutFile(path, layout, 1000);
  const bool direct_works = OpensForDirectReads(path);
  for (DirectIo mode : {DirectIo::kNever, DirectIo::kAuto, DirectIo::kAlways}) {
    for (int threads : {1, 3}) {
      SCOPED_TRACE(absl::StrCat("mode ", static_cast<int>(mode), ", threads ", threads));
      LoadOptions options;
      options.backend = Backend::kPread;
      options.direct_io = mode;
      options.threads = threads;
      ASSERT_OK_AND_ASSIGN(TensorDict loaded, load_file(path, "cpu", options));
      ASSERT_EQ(loaded.size(), layout.size());
      for (const LayoutTensor& t : layout) {
        SCOPED_TRACE(t.name);
        const at::Tensor& tensor = loaded[t.name];
        EXPECT_TRUE(HoldsItsFileBytes(tensor, file, t.file_offset));
        const auto address = reinterpret_cast<uintptr_t>(tensor.data_ptr());
        EXPECT_EQ(address % t.element_size, 0u);
        if (tensor.nbytes() < (size_t{2} << 20)) continue;
        const bool in_place = mode == DirectIo::kAlways && direct_works &&
                              t.file_offset % t.element_size == 0;
        EXPECT_EQ(address % 4096, in_place ? t.file_offset % 4096 : 0u);
      }
    }
  }
}

// kAuto on a file that is not cached reads its large tensors directly (they
// sit at their file offsets' places), and leaves them uncached.
TEST(LoadTest, AutoReadsAnUncachedFileDirectly) {
  std::vector<LayoutTensor> layout = LargeTensorsAtEveryAlignment();
  const std::string path = ::testing::TempDir() + "/cold.safetensors";
  const std::string file = WriteLayoutFile(path, layout, 2000);
  {
    const int fd = ::open(path.c_str(), O_RDONLY);
    ASSERT_GE(fd, 0);
    ASSERT_TRUE(DropFromPageCache(fd));
    ::close(fd);
  }
  ASSERT_OK_AND_ASSIGN(std::shared_ptr<File> opened, File::Open(path));
  const auto cached_pages = [&opened] {
    const std::vector<unsigned char> cached = CachedPages(*opened);
    return std::count_if(cached.begin(), cached.end(),
                         [](unsigned char c) { return (c & 1u) != 0; });
  };
  if (!OpensForDirectReads(path)) GTEST_SKIP() << "no O_DIRECT on " << path;
  if (cached_pages() != 0) GTEST_SKIP() << "this filesystem keeps dropped pages (tmpfs)";

  LoadOptions options;
  options.backend = Backend::kPread;
  ASSERT_OK_AND_ASSIGN(TensorDict loaded, load_file(path, "cpu", options));
  for (const LayoutTensor& t : layout) {
    SCOPED_TRACE(t.name);
    const at::Tensor& tensor = loaded[t.name];
    EXPECT_TRUE(HoldsItsFileBytes(tensor, file, t.file_offset));
    if (tensor.nbytes() >= (size_t{2} << 20) && t.file_offset % t.element_size == 0) {
      EXPECT_EQ(reinterpret_cast<uintptr_t>(tensor.data_ptr()) % 4096, t.file_offset % 4096);
    }
  }
  // What was read directly is still not cached: the buffered reads (the
  // header, the small tensors and the misaligned F32, 2 MiB of 11) are; the
  // 9 MiB read directly would make it more than half.
  EXPECT_LT(2 * static_cast<uint64_t>(cached_pages()) * 4096, file.size());
}

}  // namespace
}  // namespace safetensors

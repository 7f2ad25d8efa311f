#include <fcntl.h>
#include <unistd.h>

#include <random>
#include <string>
#include <vector>

#include <ATen/TensorIndexing.h>
#include <ATen/ops/arange.h>
#include <ATen/ops/equal.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "parser/error.h"
#include "parser/header_writer.h"
#include "parser/status_matchers.h"
#include "torch_io/dtype_map.h"
#include "torch_io/safe_open.h"
#include "torch_io/save.h"

namespace safetensors {
namespace {

using ::safetensors::testing::HasErrorCode;
namespace idx = at::indexing;

// Our SliceIndex and LibTorch's own indexing, for the same selection.
struct Pick {
  SliceIndex ours;
  idx::TensorIndex theirs;
};

// LibTorch's own slice bounds: SymInt from 2.1, int64_t before.
#if SAFETENSORS_TORCH_AT_LEAST(2, 1)
using TorchBound = c10::optional<c10::SymInt>;
#else
using TorchBound = c10::optional<int64_t>;
#endif
TorchBound ToTorchBound(std::optional<int64_t> bound) {
  return bound.has_value() ? TorchBound(*bound) : TorchBound();
}

std::optional<int64_t> MaybeBound(std::mt19937& rng, int64_t size) {
  if (rng() % 4 == 0) return std::nullopt;
  return static_cast<int64_t>(rng() % static_cast<uint32_t>(2 * size + 5)) - size - 2;
}

Pick RandomPick(std::mt19937& rng, int64_t size) {
  switch (rng() % 4) {
    case 0: {
      const int64_t i = static_cast<int64_t>(rng() % static_cast<uint32_t>(2 * size)) - size;
      return {SliceIndex::At(i), idx::TensorIndex(i)};
    }
    case 1:
      return {SliceIndex::All(), idx::Slice()};
    default: {
      auto start = MaybeBound(rng, size), stop = MaybeBound(rng, size);
      const int64_t step = 1 + static_cast<int64_t>(rng() % 3);
      return {SliceIndex::Range(start, stop, step),
              idx::Slice(ToTorchBound(start), ToTorchBound(stop), step)};
    }
  }
}

class SliceTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    path_ = ::testing::TempDir() + "/slices.safetensors";
    full_ = at::arange(4 * 5 * 6, at::TensorOptions().dtype(at::kFloat)).reshape({4, 5, 6});
    TensorDict tensors;
    tensors.insert("t", full_);
    tensors.insert("scalar", at::arange(1, at::TensorOptions().dtype(at::kLong)).reshape({}));
#if SAFETENSORS_HAS_FLOAT4
    tensors.insert("f4", at::arange(24, at::TensorOptions().dtype(at::kByte))
                             .reshape({4, 6})
                             .view(at::kFloat4_e2m1fn_x2));
#endif
    ASSERT_OK(save_file(tensors, path_));
    options_.backend = GetParam();
  }
  std::string path_;
  at::Tensor full_;
  LoadOptions options_;
};

TEST_P(SliceTest, AgreesWithLibTorchIndexingOnRandomSlices) {
  ASSERT_OK_AND_ASSIGN(SafeOpen f, safe_open(path_, "cpu", options_));
  ASSERT_OK_AND_ASSIGN(TensorSlice slice, f.get_slice("t"));
  EXPECT_EQ(slice.get_shape(), (std::vector<uint64_t>{4, 5, 6}));
  EXPECT_EQ(slice.get_dtype(), "F32");
  std::mt19937 rng(42);
  for (int trial = 0; trial < 2000; ++trial) {
    std::vector<SliceIndex> ours;
    std::vector<idx::TensorIndex> theirs;
    const size_t n = rng() % 4;
    for (size_t d = 0; d < n; ++d) {
      Pick pick = RandomPick(rng, full_.size(static_cast<int64_t>(d)));
      ours.push_back(pick.ours);
      theirs.push_back(pick.theirs);
    }
    bool out_of_range = false;
    for (size_t d = 0; d < n; ++d) {
      if (ours[d].kind() == SliceIndex::Kind::kAt) {
        const int64_t i = *ours[d].start(), size = full_.size(static_cast<int64_t>(d));
        out_of_range |= i < -size || i >= size;
      }
    }
    absl::StatusOr<at::Tensor> got = slice.get(ours);
    if (out_of_range) {
      EXPECT_THAT(got, HasErrorCode(ErrorCode::kBadArgument));
      continue;
    }
    ASSERT_TRUE(got.ok()) << got.status();
    const at::Tensor want = theirs.empty() ? full_ : full_.index(theirs);
    ASSERT_EQ(got->sizes(), want.sizes()) << "trial " << trial;
    EXPECT_TRUE(at::equal(*got, want)) << "trial " << trial;
  }
}

TEST_P(SliceTest, EllipsisScalarsAndErrors) {
  ASSERT_OK_AND_ASSIGN(SafeOpen f, safe_open(path_, "cpu", options_));
  ASSERT_OK_AND_ASSIGN(TensorSlice t, f.get_slice("t"));
  ASSERT_OK_AND_ASSIGN(at::Tensor last, t.get({SliceIndex::Ellipsis(), SliceIndex::At(-1)}));
  EXPECT_TRUE(at::equal(last, full_.index({idx::Ellipsis, -1})));
  ASSERT_OK_AND_ASSIGN(at::Tensor mid,
                       t.get({SliceIndex::At(1), SliceIndex::Ellipsis(), SliceIndex::Range(1, 3)}));
  EXPECT_TRUE(at::equal(mid, full_.index({1, idx::Ellipsis, idx::Slice(1, 3)})));
  ASSERT_OK_AND_ASSIGN(at::Tensor empty, t.get({SliceIndex::Range(3, 1)}));
  EXPECT_EQ(empty.sizes(), (std::vector<int64_t>{0, 5, 6}));
  EXPECT_THAT(t.get({SliceIndex::Range(0, 2, 0)}), HasErrorCode(ErrorCode::kBadArgument));
  EXPECT_THAT(t.get({SliceIndex::Range(2, 0, -1)}), HasErrorCode(ErrorCode::kBadArgument));
  EXPECT_THAT(t.get({SliceIndex::At(4)}), HasErrorCode(ErrorCode::kBadArgument));
  EXPECT_THAT(t.get({SliceIndex::All(), SliceIndex::All(), SliceIndex::All(), SliceIndex::All()}),
              HasErrorCode(ErrorCode::kBadArgument));
  EXPECT_THAT(t.get({SliceIndex::Ellipsis(), SliceIndex::Ellipsis()}),
              HasErrorCode(ErrorCode::kBadArgument));
  ASSERT_OK_AND_ASSIGN(TensorSlice s, f.get_slice("scalar"));
  ASSERT_OK_AND_ASSIGN(at::Tensor scalar, s.get({}));
  EXPECT_EQ(scalar.dim(), 0);
  EXPECT_THAT(s.get({SliceIndex::At(0)}), HasErrorCode(ErrorCode::kBadArgument));
  EXPECT_THAT(f.get_slice("missing"), HasErrorCode(ErrorCode::kTensorNotFound));
}

#if SAFETENSORS_HAS_FLOAT4
TEST_P(SliceTest, F4SlicesWholeBytes) {
  ASSERT_OK_AND_ASSIGN(SafeOpen f, safe_open(path_, "cpu", options_));
  ASSERT_OK_AND_ASSIGN(TensorSlice s, f.get_slice("f4"));
  EXPECT_EQ(s.get_shape(), (std::vector<uint64_t>{4, 12}));  // values, as in the file
  ASSERT_OK_AND_ASSIGN(at::Tensor part, s.get({SliceIndex::Range(1, 3), SliceIndex::Range(2, 8)}));
  EXPECT_EQ(part.sizes(), (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(part.scalar_type(), at::kFloat4_e2m1fn_x2);
  const at::Tensor bytes = at::arange(24, at::TensorOptions().dtype(at::kByte)).reshape({4, 6});
  EXPECT_TRUE(at::equal(part.view(at::kByte), bytes.index({idx::Slice(1, 3), idx::Slice(1, 4)})));
  EXPECT_THAT(s.get({SliceIndex::All(), SliceIndex::Range(1, 4)}),
              HasErrorCode(ErrorCode::kBadArgument));  // half a byte
  EXPECT_THAT(s.get({SliceIndex::All(), SliceIndex::Range(0, 8, 2)}),
              HasErrorCode(ErrorCode::kBadArgument));
}
#endif  // SAFETENSORS_HAS_FLOAT4

// A 10 GB tensor in a sparse file: a slice reads only its own bytes (a
// whole read would need 10 GB of memory and minutes).
TEST_P(SliceTest, ReadsOnlyTheBytesItSelects) {
  const std::string path = ::testing::TempDir() + "/sparse10g.safetensors";
  const uint64_t rows = 10, cols = 1'000'000'000;
  ASSERT_OK_AND_ASSIGN(SerializedHeader header,
                       SerializeHeader({{"big", Dtype::kU8, {rows, cols}}}, std::nullopt));
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, header.bytes.data(), header.bytes.size()),
            static_cast<ssize_t>(header.bytes.size()));
  ASSERT_EQ(::ftruncate(fd, static_cast<off_t>(header.bytes.size() + rows * cols)), 0);
  ::close(fd);
  ASSERT_OK_AND_ASSIGN(SafeOpen f, safe_open(path, "cpu", options_));
  ASSERT_OK_AND_ASSIGN(TensorSlice s, f.get_slice("big"));
  ASSERT_OK_AND_ASSIGN(at::Tensor corner,
                       s.get({SliceIndex::Range(0, 3), SliceIndex::Range(-8, std::nullopt)}));
  EXPECT_EQ(corner.sizes(), (std::vector<int64_t>{3, 8}));
  EXPECT_EQ(corner.sum().item<int64_t>(), 0);
  ::unlink(path.c_str());
}

std::string BackendName(const ::testing::TestParamInfo<Backend>& backend) {
  return backend.param == Backend::kMmap ? "Mmap" : "Pread";
}

INSTANTIATE_TEST_SUITE_P(Backends, SliceTest, ::testing::Values(Backend::kMmap, Backend::kPread),
                         BackendName);

}  // namespace
}  // namespace safetensors

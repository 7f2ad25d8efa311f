#include "torch_io/save.h"

#include <dirent.h>
#include <sys/stat.h>

#include <set>
#include <string>

#include <ATen/ops/arange.h>
#include <ATen/ops/equal.h>
#include <ATen/ops/zeros.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "parser/error.h"
#include "parser/status_matchers.h"
#include "testdata/golden_manifest.h"
#include "testdata/test_files.h"
#include "torch_io/dtype_map.h"
#include "torch_io/load.h"
#include "torch_io/safe_open.h"

namespace safetensors {
namespace {

using ::safetensors::testing::GoldenFile;
using ::safetensors::testing::HasErrorCode;
using ::safetensors::testing::ReadGoldenManifest;
using ::safetensors::testing::ReadTestFile;
using ::testing::HasSubstr;

std::set<std::string> FilesIn(const std::string& dir) {
  std::set<std::string> names;
  DIR* d = ::opendir(dir.c_str());
  while (dirent* e = d ? ::readdir(d) : nullptr) names.insert(e->d_name);
  if (d) ::closedir(d);
  return names;
}

// Files the reference wrote, read by us and written again: byte for byte
// the same wherever the reference's own output is deterministic (at most one
// metadata key; with more it orders them by hash).
TEST(SaveTest, BytesEqualTheReferenceWritersForEveryGoldenFile) {
  int compared = 0;
  for (const GoldenFile& golden : ReadGoldenManifest()) {
    if (golden.metadata.has_value() && golden.metadata->size() > 1) continue;
    SCOPED_TRACE(golden.path);
    ASSERT_OK_AND_ASSIGN(TensorDict tensors, load_file(golden.path));
    const std::optional<MetadataEntries> metadata =
        golden.metadata.has_value() ? std::optional<MetadataEntries>(*golden.metadata)
                                    : std::nullopt;
    ASSERT_OK_AND_ASSIGN(std::string bytes, save(tensors, metadata));
    const std::string original = ReadTestFile(golden.path);
    EXPECT_TRUE(bytes == original) << "save() differs from the reference's file";
    const std::string path = ::testing::TempDir() + "/resaved.safetensors";
    ASSERT_OK(save_file(tensors, path, metadata));
    EXPECT_TRUE(ReadTestFile(path) == original) << "save_file() differs";
    ++compared;
  }
  EXPECT_GE(compared, 30);
}

TEST(SaveTest, RefusesWhatTheReferenceRefusesWithItsAdvice) {
  const at::Tensor base = at::arange(12, at::TensorOptions().dtype(at::kFloat)).reshape({3, 4});
  TensorDict non_contiguous;
  non_contiguous.insert("t", base.t());
  absl::StatusOr<std::string> r = save(non_contiguous);
  EXPECT_THAT(r, HasErrorCode(ErrorCode::kInvalidTensor));
  EXPECT_THAT(r.status().message(), HasSubstr("non contiguous tensor: `t`"));
  EXPECT_THAT(r.status().message(), HasSubstr("`.contiguous()`"));

  TensorDict shared;
  shared.insert("a", base);
  shared.insert("b", base.view({12}));
  r = save(shared);
  EXPECT_THAT(r, HasErrorCode(ErrorCode::kInvalidTensor));
  EXPECT_THAT(r.status().message(), HasSubstr("Some tensors share memory"));
  EXPECT_THAT(r.status().message(), HasSubstr("[{a, b}]"));
  EXPECT_THAT(r.status().message(), HasSubstr("use `save_model`"));

  // Disjoint parts of one storage are not shared.
  TensorDict halves;
  halves.insert("top", base.view({12}).slice(0, 0, 6));
  halves.insert("bottom", base.view({12}).slice(0, 6, 12));
  EXPECT_OK(save(halves));

  TensorDict sparse;
  sparse.insert("s", base.to_sparse());
  r = save(sparse);
  EXPECT_THAT(r, HasErrorCode(ErrorCode::kInvalidTensor));
  EXPECT_THAT(r.status().message(), HasSubstr("sparse tensors: `[s]`"));

  TensorDict undefined;
  undefined.insert("u", at::Tensor());
  EXPECT_THAT(save(undefined), HasErrorCode(ErrorCode::kInvalidTensor));

  TensorDict complex128;
  complex128.insert("c", at::zeros({2}, at::TensorOptions().dtype(at::kComplexDouble)));
  EXPECT_THAT(save(complex128), HasErrorCode(ErrorCode::kUnsupportedDtype));

#if SAFETENSORS_HAS_FLOAT4
  TensorDict f4_scalar;
  f4_scalar.insert("f", at::zeros({}, at::TensorOptions().dtype(at::kByte)).view(at::kFloat4_e2m1fn_x2));
  EXPECT_THAT(save(f4_scalar), HasErrorCode(ErrorCode::kInvalidTensor));
#endif

  TensorDict fine;
  fine.insert("w", base);
  EXPECT_THAT(save(fine, MetadataEntries{{"k", "1"}, {"k", "2"}}),
              HasErrorCode(ErrorCode::kDuplicateKey));
  TensorDict reserved;
  reserved.insert("__metadata__", base);
  EXPECT_THAT(save(reserved), HasErrorCode(ErrorCode::kBadArgument));
}

TEST(SaveTest, FailedSaveLeavesTheTargetUntouchedAndNoTemporaryFile) {
  const std::string dir = ::testing::TempDir() + "/atomic";
  ::mkdir(dir.c_str(), 0755);
  const std::string path = dir + "/model.safetensors";
  TensorDict good;
  good.insert("w", at::arange(4, at::TensorOptions().dtype(at::kFloat)));
  ASSERT_OK(save_file(good, path));
  const std::string before = ReadTestFile(path);
  const std::set<std::string> files = FilesIn(dir);

  TensorDict bad;
  bad.insert("w", at::arange(6, at::TensorOptions().dtype(at::kFloat)).reshape({2, 3}).t());
  EXPECT_THAT(save_file(bad, path), HasErrorCode(ErrorCode::kInvalidTensor));
  EXPECT_THAT(save_file(good, path, MetadataEntries{{"bad", "\xFF"}}),
              HasErrorCode(ErrorCode::kBadArgument));
  EXPECT_EQ(ReadTestFile(path), before);
  EXPECT_EQ(FilesIn(dir), files);

  // An I/O failure: the directory does not exist.
  EXPECT_THAT(save_file(good, dir + "/missing/model.safetensors"),
              HasErrorCode(ErrorCode::kIoError));
  EXPECT_EQ(FilesIn(dir), files);
}

TEST(SaveTest, NewFilesGetUmaskPermissionsAndLoadBack) {
  const std::string path = ::testing::TempDir() + "/perm.safetensors";
  TensorDict tensors;
#if SAFETENSORS_HAS_FLOAT4
  tensors.insert("f4", at::arange(6, at::TensorOptions().dtype(at::kByte))
                           .reshape({2, 3})
                           .view(at::kFloat4_e2m1fn_x2));
#endif
  tensors.insert("scalar", at::zeros({}, at::TensorOptions().dtype(at::kDouble)));
  ASSERT_OK(save_file(tensors, path, MetadataEntries{{"format", "pt"}}));
  const mode_t mask = ::umask(0);
  ::umask(mask);
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0666 & ~mask);
  ASSERT_OK_AND_ASSIGN(TensorDict loaded, load_file(path));
  EXPECT_EQ(loaded["scalar"].dim(), 0);
#if SAFETENSORS_HAS_FLOAT4
  ASSERT_OK_AND_ASSIGN(SafeOpen f, safe_open(path));
  EXPECT_EQ(f.header().Find("f4")->shape, (absl::Span<const uint64_t>{2, 6}));
  EXPECT_TRUE(at::equal(loaded["f4"].view(at::kByte), tensors["f4"].view(at::kByte)));
#endif
}

}  // namespace
}  // namespace safetensors

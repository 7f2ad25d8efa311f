#include "torch_io/pickle_load.h"

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "parser/dtype.h"
#include "parser/error.h"
#include "parser/status_matchers.h"
#include "testdata/test_files.h"
#include "torch_io/checkpoint.h"
#include "torch_io/dtype_map.h"
#include "torch_io/model.h"

namespace safetensors {
namespace {

using ::testing::HasSubstr;
using testing::HasErrorCode;
using testing::IsOk;
using testing::ReadTestFile;
using testing::ReadTsv;

constexpr char kDir[] = "testdata/pickle/";

std::string ContiguousBytes(const at::Tensor& t) {
  const at::Tensor c = t.contiguous();
  return std::string(static_cast<const char*>(c.data_ptr()), c.nbytes());
}

// Every tensor of every valid file equals torch.load(weights_only=True)'s:
// dtype, shape, stride, storage offset and elements (by digest), with both
// backends.
TEST(PickleLoadTest, TensorsEqualTorchLoads) {
  std::map<std::string, std::vector<std::vector<std::string>>> expected;
  for (const auto& row : ReadTsv(std::string(kDir) + "expected.tsv")) expected[row[0]].push_back(row);
  ASSERT_GE(expected.size(), 10u);
  for (Backend backend : {Backend::kMmap, Backend::kPread}) {
    LoadOptions options;
    options.backend = backend;
    for (const auto& [file, rows] : expected) {
      SCOPED_TRACE(absl::StrCat(file, backend == Backend::kMmap ? " mmap" : " pread"));
      const absl::StatusOr<TensorDict> tensors = load_pickle_file(kDir + file, "cpu", options);
      ASSERT_THAT(tensors, IsOk());
      ASSERT_EQ(tensors->size(), rows.size());
      for (const auto& row : rows) {
        SCOPED_TRACE(row[1]);
        const at::Tensor* t = tensors->find(row[1]);
        ASSERT_NE(t, nullptr);
        const absl::StatusOr<Dtype> dtype = FromScalarType(t->scalar_type(), row[1]);
        ASSERT_THAT(dtype, IsOk());
        EXPECT_EQ(DtypeName(*dtype), row[2]);
        EXPECT_EQ(absl::StrJoin(t->sizes(), ","), row[3]);
        EXPECT_EQ(absl::StrJoin(t->strides(), ","), row[4]);
        EXPECT_EQ(absl::StrCat(t->storage_offset()), row[5]);
        EXPECT_EQ(testing::Sha256Hex(ContiguousBytes(*t)), row[6]);
      }
    }
  }
}

// As torch.load returns them: views of one storage share it.
TEST(PickleLoadTest, ViewsShareTheirStorage) {
  for (const char* file : {"views.pt", "legacy.pt"}) {
    for (Backend backend : {Backend::kMmap, Backend::kPread}) {
      SCOPED_TRACE(file);
      LoadOptions options;
      options.backend = backend;
      const absl::StatusOr<TensorDict> tensors = load_pickle_file(std::string(kDir) + file, "cpu", options);
      ASSERT_THAT(tensors, IsOk());
      const at::Tensor& base = (*tensors)["base"];
      const at::Tensor& row = std::string(file) == "views.pt" ? (*tensors)["row"] : (*tensors)["row"];
      EXPECT_TRUE(base.storage().is_alias_of(row.storage()));
      EXPECT_EQ(static_cast<const char*>(row.data_ptr()) - static_cast<const char*>(base.data_ptr()),
                row.storage_offset() * 4);
    }
  }
  const absl::StatusOr<TensorDict> views = load_pickle_file(std::string(kDir) + "views.pt");
  ASSERT_THAT(views, IsOk());
  EXPECT_EQ((*views)["tied"].data_ptr(), (*views)["base"].data_ptr());
}

TEST(PickleLoadTest, FilterReadsOnlyWhatItSelects) {
  LoadOptions options;
  options.tensor_filter = "^layer\\.bias$";
  std::vector<LoadProgress> reports;
  options.progress = [&](const LoadProgress& p) { reports.push_back(p); };
  const absl::StatusOr<TensorDict> tensors =
      load_pickle_file(std::string(kDir) + "trainer.ckpt", "cpu", options);
  ASSERT_THAT(tensors, IsOk());
  ASSERT_EQ(tensors->size(), 1u);
  EXPECT_EQ(tensors->begin()->key(), "layer.bias");
  ASSERT_FALSE(reports.empty());
  EXPECT_EQ(reports.back().bytes_total, 12u);  // the bias's storage only
  EXPECT_EQ(reports.back().tensors_done, 1u);
}

TEST(PickleLoadTest, RefusesWhatTheReaderRefuses) {
  const absl::StatusOr<TensorDict> refused = load_pickle_file(std::string(kDir) + "fickling_exec.pt");
  EXPECT_THAT(refused, HasErrorCode(ErrorCode::kRefusedGlobal));
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("builtins.exec"));
  EXPECT_THAT(load_pickle_file(std::string(kDir) + "storage_larger_than_record.pt"),
              HasErrorCode(ErrorCode::kInvalidStorage));
  PickleCheckpointOptions skip;
  skip.skip_unknown = true;
  const absl::StatusOr<TensorDict> none = load_pickle_file(std::string(kDir) + "quantized.pt", "cpu", {}, skip);
  ASSERT_THAT(none, IsOk());
  EXPECT_EQ(none->size(), 0u);
}

TEST(PickleLoadTest, ShardedCheckpointLoadsEveryShard) {
  std::map<std::string, std::string> digests;  // name -> expected digest
  for (const auto& row : ReadTsv(std::string(kDir) + "expected.tsv")) {
    if (absl::StartsWith(row[0], "sharded/")) digests[row[1]] = row[6];
  }
  ASSERT_EQ(digests.size(), 7u);
  for (const std::string& path :
       {std::string(kDir) + "sharded", std::string(kDir) + "sharded/pytorch_model.bin.index.json"}) {
    EXPECT_TRUE(IsPickleCheckpointPath(path));
    for (const Backend backend : {Backend::kMmap, Backend::kPread}) {
      SCOPED_TRACE(path + (backend == Backend::kMmap ? " mmap" : " pread"));
      LoadOptions options;
      options.backend = backend;
      std::vector<LoadProgress> reports;
      options.progress = [&](const LoadProgress& p) { reports.push_back(p); };
      const absl::StatusOr<TensorDict> tensors = load_pickle_checkpoint(path, "cpu", options);
      ASSERT_THAT(tensors, IsOk());
      ASSERT_EQ(tensors->size(), digests.size());
      for (const auto& [name, digest] : digests) {
        ASSERT_NE(tensors->find(name), nullptr) << name;
        EXPECT_EQ(testing::Sha256Hex(ContiguousBytes((*tensors)[name])), digest) << name;
      }
      // One progress over all shards (read as one plan), ending complete.
      ASSERT_FALSE(reports.empty());
      for (const LoadProgress& p : reports) {
        EXPECT_EQ(p.bytes_total, 944u);  // the index's total_size: no storage is shared
        EXPECT_EQ(p.tensors_total, 7u);
      }
      EXPECT_EQ(reports.back().bytes_done, 944u);
      EXPECT_EQ(reports.back().tensors_done, 7u);
    }
  }
  EXPECT_TRUE(IsPickleCheckpointPath(std::string(kDir) + "views.pt"));
  EXPECT_FALSE(IsPickleCheckpointPath("testdata/example_mlp.safetensors"));
  EXPECT_FALSE(IsPickleCheckpointPath(std::string(kDir) + "sharded_converted"));
}

TEST(PickleLoadTest, ShardsMustHoldWhatTheIndexSays) {
  const std::string dir = testing::NewTempDir("pickle_shards");
  const std::string index = ReadTestFile(std::string(kDir) + "sharded/pytorch_model.bin.index.json");
  testing::WriteTempFile("pickle_shards/pytorch_model.bin.index.json", index);
  // The shards swapped: each holds tensors weight_map gives the other.
  testing::WriteTempFile("pickle_shards/pytorch_model-00001-of-00002.bin",
                         ReadTestFile(std::string(kDir) + "sharded/pytorch_model-00002-of-00002.bin"));
  testing::WriteTempFile("pickle_shards/pytorch_model-00002-of-00002.bin",
                         ReadTestFile(std::string(kDir) + "sharded/pytorch_model-00001-of-00002.bin"));
  EXPECT_THAT(load_pickle_checkpoint(dir), HasErrorCode(ErrorCode::kUnlistedTensor));
  std::filesystem::remove(dir + "/pytorch_model-00001-of-00002.bin");
  EXPECT_THAT(load_pickle_checkpoint(dir), HasErrorCode(ErrorCode::kIoError));
}

struct Layers : torch::nn::Module {
  Layers() {
    for (int i = 0; i < 3; ++i) layers->push_back(torch::nn::Linear(8, 8));
    register_module("layers", layers);
    register_module("head", head);
  }
  torch::nn::ModuleList layers;
  torch::nn::Linear head{8, 4};
};

TEST(PickleLoadTest, ModelsLoadFromPickleCheckpoints) {
  torch::nn::Sequential model(torch::nn::Linear(4, 3), torch::nn::LayerNorm(torch::nn::LayerNormOptions({3})));
  const absl::StatusOr<LoadModelResult> loaded =
      load_model(*model, std::string(kDir) + "module_state_dict.pt");
  ASSERT_THAT(loaded, IsOk());
  EXPECT_TRUE(loaded->missing.empty());
  EXPECT_TRUE(loaded->unexpected.empty());
  const absl::StatusOr<TensorDict> file = load_pickle_file(std::string(kDir) + "module_state_dict.pt");
  ASSERT_THAT(file, IsOk());
  for (const auto& item : model->named_parameters()) {
    EXPECT_TRUE(item.value().equal((*file)[item.key()])) << item.key();
  }
  // A refused file is refused before anything is written.
  EXPECT_THAT(load_model(*model, std::string(kDir) + "fickling_exec.pt"), HasErrorCode(ErrorCode::kRefusedGlobal));

  // Sharded, through load_torch_model (strict=false): the file's bf16 biases
  // convert to the model's float; head.bias is not in the checkpoint.
  Layers layers;
  const absl::StatusOr<LoadModelResult> sharded = load_torch_model(layers, std::string(kDir) + "sharded");
  ASSERT_THAT(sharded, IsOk());
  EXPECT_THAT(sharded->missing, ::testing::ElementsAre("head.bias"));
  const absl::StatusOr<TensorDict> shards = load_pickle_checkpoint(std::string(kDir) + "sharded");
  ASSERT_THAT(shards, IsOk());
  const auto parameters = layers.named_parameters();
  for (const auto& item : *shards) {
    const at::Tensor* target = parameters.find(item.key());
    ASSERT_NE(target, nullptr) << item.key();
    EXPECT_TRUE(target->equal(item.value().to(target->scalar_type()))) << item.key();
  }
  EXPECT_THAT(load_torch_model(layers, std::string(kDir) + "sharded", /*strict=*/true),
              HasErrorCode(ErrorCode::kBadArgument));
}

}  // namespace
}  // namespace safetensors

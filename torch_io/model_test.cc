#include "torch_io/model.h"

#include <map>
#include <string>

#include <ATen/ops/arange.h>
#include <ATen/ops/equal.h>
#include <ATen/ops/zeros.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "parser/error.h"
#include "parser/status_matchers.h"
#include "testdata/golden_manifest.h"
#include "torch_io/load.h"
#include "torch_io/safe_open.h"
#include "torch_io/testing/test_util.h"
#include "torch_io/testing/tiny_lm.h"

namespace safetensors {
namespace {

using ::safetensors::testing::GoldenFile;
using ::safetensors::testing::HasErrorCode;
using ::safetensors::testing::ReadGoldenManifest;
using ::safetensors::testing::TensorSha256;
using ::safetensors::testing::TinyLM;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr char kReferenceModel[] = "testdata/golden/model_tied_weights.safetensors";

GoldenFile ReferenceModelManifest() {
  for (GoldenFile& file : ReadGoldenManifest()) {
    if (file.path == kReferenceModel) return file;
  }
  ADD_FAILURE() << "no manifest entry for " << kReferenceModel;
  return {};
}

TEST(ModelTest, StateDictNamesFollowPython) {
  TinyLM model;
  const TensorDict state = internal::StateDict(model);
  EXPECT_THAT(state.keys(), ElementsAre("embed.weight", "norm.weight", "norm.bias",
                                        "proj.weight", "proj.bias", "head.weight"));
  ASSERT_OK_AND_ASSIGN(auto to_remove, internal::RemoveDuplicateNames(state));
  EXPECT_EQ(to_remove, (std::map<std::string, std::vector<std::string>>{
                           {"embed.weight", {"head.weight"}}}));
  // Names in the file win over the lexicographic choice.
  ASSERT_OK_AND_ASSIGN(auto preferring_head,
                       internal::RemoveDuplicateNames(state, {"head.weight"}));
  EXPECT_EQ(preferring_head, (std::map<std::string, std::vector<std::string>>{
                                 {"head.weight", {"embed.weight"}}}));
}

TEST(ModelTest, LoadsTheReferencesTiedModel) {
  TinyLM model;
  ASSERT_OK_AND_ASSIGN(LoadModelResult result, load_model(model, kReferenceModel));
  EXPECT_THAT(result.missing, IsEmpty());
  EXPECT_THAT(result.unexpected, IsEmpty());
  EXPECT_EQ(model.head->weight.data_ptr(), model.embed->weight.data_ptr());  // still tied
  const GoldenFile golden = ReferenceModelManifest();
  const TensorDict state = internal::StateDict(model);
  for (const auto& want : golden.tensors) {
    EXPECT_EQ(TensorSha256(state[want.name]), want.sha256) << want.name;
  }
}

TEST(ModelTest, SaveModelWritesWhatTheReferenceWrites) {
  TinyLM model;
  ASSERT_OK(load_model(model, kReferenceModel).status());
  const std::string path = ::testing::TempDir() + "/tiny.safetensors";
  ASSERT_OK(save_model(model, path, MetadataEntries{{"model", "TinyLM"}}));
  ASSERT_OK_AND_ASSIGN(SafeOpen ours, safe_open(path));
  ASSERT_OK_AND_ASSIGN(SafeOpen reference, safe_open(kReferenceModel));
  // The same tensors at the same offsets...
  EXPECT_TRUE(std::equal(ours.header().tensors().begin(), ours.header().tensors().end(),
                         reference.header().tensors().begin(),
                         reference.header().tensors().end()));
  EXPECT_EQ(ours.header().header_size(), reference.header().header_size());
  ASSERT_OK_AND_ASSIGN(TensorDict a, ours.get_tensors());
  ASSERT_OK_AND_ASSIGN(TensorDict b, reference.get_tensors());
  for (const auto& item : a) EXPECT_TRUE(at::equal(item.value(), b[item.key()])) << item.key();
  // ...and the same metadata: the user's key and the dropped tied name.
  MetadataEntries ours_meta = *ours.metadata(), ref_meta = *reference.metadata();
  std::sort(ours_meta.begin(), ours_meta.end());
  std::sort(ref_meta.begin(), ref_meta.end());
  EXPECT_EQ(ours_meta, ref_meta);
  EXPECT_THAT(ours_meta, ElementsAre(std::make_pair("head.weight", "embed.weight"),
                                     std::make_pair("model", "TinyLM")));
}

TEST(ModelTest, SaveModelNeverOverridesUserMetadata) {
  TinyLM model;
  const std::string path = ::testing::TempDir() + "/tiny_meta.safetensors";
  ASSERT_OK(save_model(model, path, MetadataEntries{{"head.weight", "mine"}}));
  ASSERT_OK_AND_ASSIGN(SafeOpen f, safe_open(path));
  EXPECT_THAT(*f.metadata(), ElementsAre(std::make_pair("head.weight", "mine")));
  ASSERT_OK(save_model(model, path));
  ASSERT_OK_AND_ASSIGN(SafeOpen g, safe_open(path));
  EXPECT_THAT(*g.metadata(), ElementsAre(std::make_pair("head.weight", "embed.weight")));
}

struct Extra : torch::nn::Module {
  Extra() { w = register_parameter("w", at::zeros({3})); }
  at::Tensor w;
};

TEST(ModelTest, StrictReportsMissingAndUnexpectedAsTheReference) {
  struct Bigger : TinyLM {
    Bigger() { extra = register_module("extra", std::make_shared<Extra>()); }
    std::shared_ptr<Extra> extra;
  };
  Bigger bigger;
  absl::StatusOr<LoadModelResult> strict = load_model(bigger, kReferenceModel);
  EXPECT_THAT(strict, HasErrorCode(ErrorCode::kBadArgument));
  EXPECT_THAT(strict.status().message(),
              HasSubstr(":\n    Missing key(s) in state_dict: \"extra.w\""));
  ASSERT_OK_AND_ASSIGN(LoadModelResult lenient,
                       load_model(bigger, kReferenceModel, /*strict=*/false));
  EXPECT_THAT(lenient.missing, ElementsAre("extra.w"));
  EXPECT_THAT(lenient.unexpected, IsEmpty());

  const std::string path = ::testing::TempDir() + "/bigger.safetensors";
  ASSERT_OK(save_model(bigger, path));
  TinyLM smaller;
  strict = load_model(smaller, path);
  EXPECT_THAT(strict.status().message(),
              HasSubstr("\n    Unexpected key(s) in state_dict: \"extra.w\""));
  ASSERT_OK_AND_ASSIGN(lenient, load_model(smaller, path, /*strict=*/false));
  EXPECT_THAT(lenient.unexpected, ElementsAre("extra.w"));
}

TEST(ModelTest, ShapeMismatchIsAnError) {
  Extra three;
  const std::string path = ::testing::TempDir() + "/three.safetensors";
  ASSERT_OK(save_model(three, path));
  struct Four : torch::nn::Module {
    Four() { w = register_parameter("w", at::zeros({4})); }
    at::Tensor w;
  } four;
  absl::StatusOr<LoadModelResult> r = load_model(four, path);
  EXPECT_THAT(r, HasErrorCode(ErrorCode::kBadArgument));
  EXPECT_THAT(r.status().message(), HasSubstr("size mismatch for w: copying a param with "
                                              "shape [3] from checkpoint, the shape in "
                                              "current model is [4]."));
}

TEST(ModelTest, SharedViewsWithoutAWholeStorageNameAreRefused) {
  struct Halves : torch::nn::Module {
    Halves() {
      const at::Tensor storage = at::arange(8, at::TensorOptions().dtype(at::kFloat));
      a = register_parameter("a", storage.slice(0, 0, 6));
      b = register_parameter("b", storage.slice(0, 2, 8));
    }
    at::Tensor a, b;
  } halves;
  absl::Status s = save_model(halves, ::testing::TempDir() + "/halves.safetensors");
  EXPECT_THAT(s, HasErrorCode(ErrorCode::kInvalidTensor));
  EXPECT_THAT(s.message(), HasSubstr("found no suitable name to keep for saving amongst: {a, b}"));
}

TEST(ModelTest, ForceContiguousPacksAndItsAbsenceExplains) {
  struct Transposed : torch::nn::Module {
    Transposed() {
      w = register_parameter(
          "w", at::arange(6, at::TensorOptions().dtype(at::kFloat)).reshape({2, 3}).t());
    }
    at::Tensor w;
  } transposed;
  const std::string path = ::testing::TempDir() + "/transposed.safetensors";
  ASSERT_OK(save_model(transposed, path));
  ASSERT_OK_AND_ASSIGN(TensorDict loaded, load_file(path));
  EXPECT_TRUE(at::equal(loaded["w"], transposed.w));
  absl::Status s = save_model(transposed, path, std::nullopt, /*force_contiguous=*/false);
  EXPECT_THAT(s, HasErrorCode(ErrorCode::kInvalidTensor));
  EXPECT_THAT(s.message(), HasSubstr("Or use save_model(..., force_contiguous=True)"));
}

}  // namespace
}  // namespace safetensors

#include "torch_io/model.h"

#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <ATen/ops/arange.h>
#include <ATen/ops/ones.h>
#include <ATen/ops/ones_like.h>
#include <ATen/ops/randn.h>
#include <ATen/ops/equal.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/full.h>
#include <ATen/ops/zeros.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "parser/error.h"
#include "parser/status_matchers.h"
#include "testdata/golden_manifest.h"
#include "torch_io/load.h"
#include "torch_io/safe_open.h"
#include "torch_io/save.h"
#include "torch_io/shared_tensors.h"
#include "torch_io/testing/shaped_module.h"
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

// Every golden file, read straight into a model of its own dtypes (in
// place), of float64 (every tensor converted, through a tiny staging buffer
// in pieces), on 1 and 3 threads, with either backend: the model ends as the
// two-pass load left it.
TEST(ModelTest, EveryGoldenFileLoadsIntoAModelAsTheTwoPassLoadDid) {
  int files = 0, converted = 0;
  for (const GoldenFile& golden : ReadGoldenManifest()) {
    SCOPED_TRACE(golden.path);
    ASSERT_OK_AND_ASSIGN(const TensorDict file, load_file(golden.path));
    for (std::optional<at::ScalarType> dtype : {std::optional<at::ScalarType>(), {at::kDouble}}) {
      std::shared_ptr<torch::nn::Module> expected = testing::ModuleShapedLike(file, dtype, 0x5A);
      if (expected == nullptr) break;
      const bool convertible = testing::LoadInTwoPasses(*expected, file);
      if (dtype.has_value() && convertible) ++converted;
      for (Backend backend : {Backend::kMmap, Backend::kPread}) {
        for (int threads : {1, 3}) {
          std::shared_ptr<torch::nn::Module> ours = testing::ModuleShapedLike(file, dtype, 0x5A);
          LoadOptions options;
          options.backend = backend;
          options.threads = threads;
          options.staging_bytes = 24;  // pieces of three float64 at a time
          absl::StatusOr<LoadModelResult> result =
              load_model(*ours, golden.path, /*strict=*/true, "cpu", options);
          if (!convertible) {  // a clean error where copy_ threw
            EXPECT_FALSE(result.ok());
            continue;
          }
          ASSERT_OK(result);
          EXPECT_THAT(result->missing, IsEmpty());
          testing::ExpectSameState(*ours, *expected);
        }
      }
    }
    ++files;
  }
  EXPECT_GE(files, 30);
  EXPECT_GE(converted, 25);
}

// A file with both names of a tied pair, different values: both are copied
// in state-dict order, as the two-pass load did, so the last name's values
// are what the shared memory holds; the in-place read of the first and the
// staged copy of the second keep that order.
TEST(ModelTest, BothNamesOfATiedPairAreWrittenInStateDictOrder) {
  TinyLM model;
  TensorDict file = internal::StateDict(model);
  TensorDict distinct;
  for (const auto& item : file) {
    distinct.insert(item.key(), at::arange(item.value().numel(), at::TensorOptions().dtype(at::kFloat))
                                    .reshape(item.value().sizes()) +
                                    static_cast<double>(distinct.size()));
  }
  const std::string path = ::testing::TempDir() + "/tied_both.safetensors";
  ASSERT_OK(save_file(distinct, path));
  TinyLM expected;
  ASSERT_TRUE(testing::LoadInTwoPasses(expected, distinct));
  ASSERT_OK_AND_ASSIGN(LoadModelResult result, load_model(model, path, /*strict=*/false));
  EXPECT_THAT(result.unexpected, ElementsAre("head.weight"));
  testing::ExpectSameState(model, expected);
  EXPECT_TRUE(at::equal(model.embed->weight, distinct["head.weight"]));
}

// A buffer that is a transposed view cannot be read into in place: it is
// filled through staging, whole, and ends as copy_ would leave it.
TEST(ModelTest, NonContiguousTensorsAreFilledThroughStaging) {
  struct Transposed : torch::nn::Module {
    Transposed() {
      w = register_buffer("w", at::zeros({3, 2}, at::TensorOptions().dtype(at::kDouble)).t());
    }
    at::Tensor w;
  } model;
  TensorDict file;
  file.insert("w", at::arange(6, at::TensorOptions().dtype(at::kFloat)).reshape({2, 3}));
  const std::string path = ::testing::TempDir() + "/for_transposed.safetensors";
  ASSERT_OK(save_file(file, path));
  LoadOptions options;
  options.staging_bytes = 8;  // smaller than the tensor: still whole, as it cannot be cut
  ASSERT_OK(load_model(model, path, /*strict=*/true, "cpu", options));
  EXPECT_FALSE(model.w.is_contiguous());
  EXPECT_TRUE(at::equal(model.w, file["w"].to(at::kDouble)));
}

// Refusals (strict names, a shape) are found before anything is written:
// the model keeps every value, even those of tensors that did match.
TEST(ModelTest, ARefusedLoadWritesNothing) {
  TinyLM model;
  const TensorDict before = internal::StateDict(model);
  std::map<std::string, std::string> original;
  for (const auto& item : before) original[item.key()] = std::string(testing::TensorBytes(item.value()));
  TensorDict file;
  for (const auto& item : before) file.insert(item.key(), at::ones_like(item.value()));
  file.insert("extra", at::ones({2}));
  const std::string unexpected = ::testing::TempDir() + "/with_extra.safetensors";
  ASSERT_OK(save_file(file, unexpected));
  EXPECT_THAT(load_model(model, unexpected, /*strict=*/true), HasErrorCode(ErrorCode::kBadArgument));
  file.erase("extra");
  file["proj.bias"] = at::ones({5});  // the wrong shape, late in the state dict
  const std::string wrong_shape = ::testing::TempDir() + "/wrong_shape.safetensors";
  ASSERT_OK(save_file(file, wrong_shape));
  EXPECT_THAT(load_model(model, wrong_shape, /*strict=*/false),
              HasErrorCode(ErrorCode::kBadArgument));
  for (const auto& item : internal::StateDict(model)) {
    EXPECT_EQ(testing::TensorBytes(item.value()), original[item.key()]) << item.key();
  }
}

// Progress over a load that reads in place and through staging: never
// backwards, complete at the end, one tensor per name filled.
TEST(ModelTest, ProgressIsMonotonicAndComplete) {
  TinyLM model;
  const TensorDict state = internal::StateDict(model);
  TensorDict file;
  uint64_t bytes = 0;
  for (const auto& item : state) {
    if (item.key() == "head.weight") continue;  // tied to embed.weight
    // norm.* as float64: converted through staging; the rest in place.
    const bool convert = item.key().rfind("norm.", 0) == 0;
    file.insert(item.key(), at::randn(item.value().sizes()).to(convert ? at::kDouble : at::kFloat));
    bytes += file[item.key()].nbytes();
  }
  const std::string path = ::testing::TempDir() + "/progress.safetensors";
  ASSERT_OK(save_file(file, path));
  for (int threads : {1, 2}) {
    std::vector<LoadProgress> reports;
    LoadOptions options;
    options.threads = threads;
    options.staging_bytes = 16;
    options.progress = [&](const LoadProgress& p) { reports.push_back(p); };
    ASSERT_OK(load_model(model, path, /*strict=*/true, "cpu", options));
    ASSERT_FALSE(reports.empty());
    for (size_t i = 1; i < reports.size(); ++i) {
      EXPECT_GE(reports[i].bytes_done, reports[i - 1].bytes_done);
      EXPECT_GE(reports[i].tensors_done, reports[i - 1].tensors_done);
    }
    EXPECT_EQ(reports.back().bytes_done, bytes);
    EXPECT_EQ(reports.back().bytes_total, bytes);
    EXPECT_EQ(reports.back().tensors_done, file.size());
    EXPECT_EQ(reports.back().tensors_total, file.size());
  }
  EXPECT_TRUE(at::equal(model.norm->weight, file["norm.weight"].to(at::kFloat)));
}

// A module that lists its tensors in the reverse of the file's order: the
// reads are still planned in file order, so 100 adjacent small tensors are
// one read (one progress report), not 100.
TEST(ModelTest, ReadsCoalesceWhateverTheModulesOrder) {
  TensorDict file;
  for (int i = 0; i < 100; ++i) file.insert(absl::StrCat("t", 100 + i), at::full({4}, static_cast<float>(i)));
  const std::string path = ::testing::TempDir() + "/reverse_order.safetensors";
  ASSERT_OK(save_file(file, path));
  torch::nn::Module model("Reversed");
  for (int i = 99; i >= 0; --i) {
    model.register_buffer(absl::StrCat("t", 100 + i), at::zeros({4}));
  }
  int reports = 0;
  LoadOptions options;
  options.progress = [&](const LoadProgress&) { ++reports; };
  ASSERT_OK(load_model(model, path, /*strict=*/true, "cpu", options));
  EXPECT_EQ(reports, 1);
  for (int i = 0; i < 100; ++i) {
    EXPECT_TRUE(at::equal(model.named_buffers()[absl::StrCat("t", 100 + i)], at::full({4}, static_cast<float>(i))));
  }
}

}  // namespace
}  // namespace safetensors

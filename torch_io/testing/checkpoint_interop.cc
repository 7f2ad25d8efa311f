// The C++ half of checkpoint_interop_test: builds the state dicts that
// checkpoint_interop_check.py describes (a line-based spec it writes), then
//   write SPEC OUT   saves each with save_torch_state_dict into OUT/<case>;
//   read SPEC DIR    loads each checkpoint DIR/<case> (written by
//                    huggingface_hub) with load_checkpoint and load_torch_model
//                    and checks every tensor's bytes.
// Prints one line per case; exits non-zero on the first failure.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <ATen/ops/arange.h>
#include <ATen/ops/equal.h>
#include <torch/nn/module.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "torch_io/checkpoint.h"
#include "torch_io/testing/test_util.h"

namespace safetensors {
namespace {

struct TensorSpec {
  std::string name, dtype, tie;
  std::vector<int64_t> shape;
  int64_t seed = 0;
};

struct CaseSpec {
  std::string name;
  SaveCheckpointOptions options;
  std::vector<TensorSpec> tensors;
};

std::vector<CaseSpec> ReadSpec(const std::string& path) {
  std::vector<CaseSpec> cases;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> f = absl::StrSplit(line, '\t');
    if (f[0] == "case") {
      cases.emplace_back();
      cases.back().name = f[1];
      (void)absl::SimpleAtoi(f[2], &cases.back().options.max_shard_size);
      cases.back().options.filename_pattern = f[3];
    } else if (f[0] == "meta") {
      cases.back().options.metadata.emplace_back(f[1], f[2]);
    } else if (f[0] == "discard") {
      cases.back().options.shared_tensors_to_discard.insert(f[1]);
    } else if (f[0] == "tensor") {
      TensorSpec t;
      t.name = f[1];
      t.dtype = f[2];
      for (absl::string_view d : absl::StrSplit(f[3], ',', absl::SkipEmpty())) {
        int64_t v = 0;
        (void)absl::SimpleAtoi(d, &v);
        t.shape.push_back(v);
      }
      (void)absl::SimpleAtoi(f[4], &t.seed);
      cases.back().tensors.push_back(t);
    } else if (f[0] == "tie") {
      TensorSpec t;
      t.name = f[1];
      t.tie = f[2];
      cases.back().tensors.push_back(t);
    }
  }
  return cases;
}

c10::ScalarType TypeNamed(const std::string& python_name) {
  for (int i = 0; i < static_cast<int>(c10::ScalarType::NumOptions); ++i) {
    const auto type = static_cast<c10::ScalarType>(i);
    if (testing::PythonDtypeName(type) == python_name) return type;
  }
  std::fprintf(stderr, "unknown dtype %s\n", python_name.c_str());
  std::exit(2);
}

// ((arange(nbytes) * 37 + seed) % 251) as bytes (bools: % 2), viewed as the
// dtype: what checkpoint_interop_check.py builds, op for op.
TensorDict Build(const CaseSpec& c) {
  TensorDict state;
  for (const TensorSpec& t : c.tensors) {
    if (!t.tie.empty()) {
      state.insert(t.name, state[t.tie]);
      continue;
    }
    const c10::ScalarType type = TypeNamed(t.dtype);
    int64_t numel = 1;
    for (int64_t d : t.shape) numel *= d;
    const int64_t nbytes = numel * static_cast<int64_t>(c10::elementSize(type));
    at::Tensor bytes = at::arange(nbytes, at::TensorOptions().dtype(at::kLong)).mul(37).add(t.seed).remainder(251);
    if (type == c10::ScalarType::Bool) bytes = bytes.remainder(2);
    state.insert(t.name, bytes.to(at::kByte).view(type).reshape(t.shape));
  }
  return state;
}

// A module whose state dict has `state`'s names, sharing its tensors (so
// tied names stay tied), zeroed.
std::shared_ptr<torch::nn::Module> ModuleFor(const TensorDict& state) {
  auto root = std::make_shared<torch::nn::Module>("Interop");
  std::map<const void*, at::Tensor> copies;
  for (const auto& item : state) {
    std::vector<std::string> parts = absl::StrSplit(item.key(), '.');
    torch::nn::Module* module = root.get();
    for (size_t i = 0; i + 1 < parts.size(); ++i) {
      auto children = module->named_children();
      if (auto* child = children.find(parts[i])) {
        module = child->get();
      } else {
        module = module->register_module(parts[i], std::make_shared<torch::nn::Module>()).get();
      }
    }
    const void* storage = item.value().storage().data();
    auto it = copies.find(storage);
    if (it == copies.end()) it = copies.emplace(storage, at::zeros_like(item.value())).first;
    module->register_buffer(parts.back(), it->second);
  }
  return root;
}

int Write(const std::vector<CaseSpec>& cases, const std::string& out) {
  for (const CaseSpec& c : cases) {
    const std::string dir = out + "/" + c.name;
    std::filesystem::create_directories(dir);
    const absl::Status status = save_torch_state_dict(Build(c), dir, c.options);
    std::printf("write %s: %s\n", c.name.c_str(), status.ToString().c_str());
    if (!status.ok()) return 1;
  }
  return 0;
}

int Read(const std::vector<CaseSpec>& cases, const std::string& dir) {
  for (const CaseSpec& c : cases) {
    const std::string path = dir + "/" + c.name;
    const TensorDict expected = Build(c);
    if (expected.is_empty()) {
      const bool empty = std::filesystem::is_empty(path);
      std::printf("read %s: %s\n", c.name.c_str(), empty ? "empty, as written" : "NOT EMPTY");
      if (!empty) return 1;
      continue;
    }
    CheckpointOptions options;
    options.filename_pattern = c.options.filename_pattern;
    absl::StatusOr<TensorDict> loaded = load_checkpoint(path, "cpu", {}, options);
    if (!loaded.ok()) {
      std::printf("read %s: %s\n", c.name.c_str(), loaded.status().ToString().c_str());
      return 1;
    }
    for (const auto& item : *loaded) {
      const at::Tensor* want = expected.find(item.key());
      if (want == nullptr || testing::TensorBytes(item.value()) != testing::TensorBytes(*want)) {
        std::printf("read %s: tensor %s differs\n", c.name.c_str(), item.key().c_str());
        return 1;
      }
    }
    auto module = ModuleFor(expected);
    absl::StatusOr<LoadModelResult> result = load_torch_model(*module, path, /*strict=*/true, "cpu", {}, options);
    if (!result.ok()) {
      std::printf("read %s: load_torch_model: %s\n", c.name.c_str(), result.status().ToString().c_str());
      return 1;
    }
    const TensorDict filled = internal::StateDict(*module);
    for (const auto& item : filled) {
      if (testing::TensorBytes(item.value()) != testing::TensorBytes(expected[item.key()])) {
        std::printf("read %s: module tensor %s differs\n", c.name.c_str(), item.key().c_str());
        return 1;
      }
    }
    std::printf("read %s: %zu tensors in the files, %zu in the module, all equal\n", c.name.c_str(),
                loaded->size(), filled.size());
  }
  return 0;
}

}  // namespace
}  // namespace safetensors

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: checkpoint_interop write|read SPEC DIR\n");
    return 2;
  }
  const auto cases = safetensors::ReadSpec(argv[2]);
  const std::string mode = argv[1];
  if (mode == "write") return safetensors::Write(cases, argv[3]);
  if (mode == "read") return safetensors::Read(cases, argv[3]);
  return 2;
}

// Models for testing load_model and load_torch_model against the two-pass
// load they replaced: a module shaped like a file's tensors, the two-pass
// load itself, and a bitwise comparison of two models' state.
#ifndef SAFETENSORS_TORCH_IO_TESTING_SHAPED_MODULE_H_
#define SAFETENSORS_TORCH_IO_TESTING_SHAPED_MODULE_H_

#include <cstdint>
#include <cstring>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <ATen/ops/empty.h>
#include <torch/csrc/autograd/grad_mode.h>
#include <torch/nn/module.h>

#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "torch_io/model.h"
#include "torch_io/testing/test_util.h"
#include "torch_io/types.h"

namespace safetensors {
namespace testing {

// A module whose state dict has one tensor per name of `tensors` (nested
// modules for dotted names), each of the given dtype (the file's when
// nullopt) and shape, every byte `fill`. Buffers, so any dtype will do.
// Null when a name cannot be a state-dict path ("a" and "a.b" both, empty
// parts).
inline std::shared_ptr<torch::nn::Module> ModuleShapedLike(const TensorDict& tensors,
                                                           std::optional<at::ScalarType> dtype,
                                                           uint8_t fill) {
  auto root = std::make_shared<torch::nn::Module>("Shaped");
  for (const auto& item : tensors) {
    const std::vector<std::string> parts = absl::StrSplit(item.key(), '.');
    std::shared_ptr<torch::nn::Module> module = root;
    for (size_t i = 0; i + 1 < parts.size(); ++i) {
      if (parts[i].empty() || module->named_buffers(false).contains(parts[i])) return nullptr;
      auto children = module->named_children();
      module = children.contains(parts[i])
                   ? children[parts[i]]
                   : module->register_module(parts[i], std::make_shared<torch::nn::Module>());
    }
    if (parts.back().empty() || module->named_children().contains(parts.back())) return nullptr;
    at::Tensor tensor = at::empty(
        item.value().sizes(), at::TensorOptions().dtype(dtype.value_or(item.value().scalar_type())));
    // Bytes, since fill_ has no kernel for some dtypes; an empty tensor has no data pointer.
    if (tensor.nbytes() > 0) std::memset(tensor.data_ptr(), fill, tensor.nbytes());
    module->register_buffer(parts.back(), tensor);
  }
  return root;
}

// What load_model did before it read into the model: `file` loaded whole
// (load_file, load_checkpoint), then copy_ of each tensor into the model's
// (dtype converted by copy_). False when copy_ refuses a conversion
// (LibTorch has none for some dtypes).
inline bool LoadInTwoPasses(torch::nn::Module& model, const TensorDict& file) {
  const TensorDict state = internal::StateDict(model);
  torch::NoGradGuard no_grad;
  try {
    for (const auto& item : state) {
      if (file.contains(item.key())) item.value().copy_(file[item.key()]);
    }
  } catch (const std::exception&) {
    return false;
  }
  return true;
}

// Every tensor, bit for bit (NaN payloads and signed zeros included).
inline void ExpectSameState(torch::nn::Module& ours, torch::nn::Module& expected) {
  const TensorDict a = internal::StateDict(ours), b = internal::StateDict(expected);
  ASSERT_EQ(a.keys(), b.keys());
  for (const auto& item : a) {
    ASSERT_EQ(item.value().scalar_type(), b[item.key()].scalar_type()) << item.key();
    EXPECT_EQ(TensorBytes(item.value().contiguous()), TensorBytes(b[item.key()].contiguous()))
        << item.key();
  }
}

}  // namespace testing
}  // namespace safetensors

#endif  // SAFETENSORS_TORCH_IO_TESTING_SHAPED_MODULE_H_

// Loads the example checkpoint into a torch::nn module with load_model and
// runs one forward pass.
//
//   bazel run //tools:example [-- path/to/example_mlp.safetensors]
#include <cstdlib>
#include <iostream>
#include <string>

#include <ATen/ops/relu.h>
#include <ATen/ops/tensor.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>

#include "torch_io/safetensors.h"

namespace {

// The model tools/gen_golden.py saved: a 4-16-3 classifier.
struct ExampleMLP : torch::nn::Module {
  ExampleMLP() {
    fc1 = register_module("fc1", torch::nn::Linear(4, 16));
    fc2 = register_module("fc2", torch::nn::Linear(16, 3));
  }
  at::Tensor forward(const at::Tensor& x) { return fc2->forward(at::relu(fc1->forward(x))); }
  torch::nn::Linear fc1{nullptr}, fc2{nullptr};
};

}  // namespace

int main(int argc, char** argv) {
  std::string path = argc > 1 ? argv[1] : "testdata/example_mlp.safetensors";
  if (const char* cwd = std::getenv("BUILD_WORKING_DIRECTORY"); cwd && path[0] != '/') {
    path = std::string(cwd) + "/" + path;
  }
  ExampleMLP model;
  absl::StatusOr<safetensors::LoadModelResult> loaded = safetensors::load_model(model, path);
  if (!loaded.ok()) {
    std::cerr << "example: " << loaded.status() << "\n";
    return 1;
  }
  const at::Tensor input = at::tensor({0.5f, -1.0f, 2.0f, 0.25f}).reshape({1, 4});
  const at::Tensor logits = model.forward(input);
  std::cout << "loaded " << path << "\n";
  std::cout << "logits:";
  for (int64_t i = 0; i < logits.size(1); ++i) std::cout << " " << logits[0][i].item<float>();
  std::cout << "\nclass: " << logits.argmax(1).item<int64_t>() << "\n";
  return 0;
}

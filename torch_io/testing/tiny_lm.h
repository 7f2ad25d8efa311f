// The C++ twin of tools/gen_golden.py's TinyLM (tests only): the same
// modules in the same order, with the output head tied to the embedding.
#ifndef SAFETENSORS_TORCH_IO_TESTING_TINY_LM_H_
#define SAFETENSORS_TORCH_IO_TESTING_TINY_LM_H_

#include <memory>

#include <torch/nn/module.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>

namespace safetensors {
namespace testing {

// Holds a weight registered elsewhere too: what Python's
// `head.weight = embed.weight` does.
struct TiedHead : torch::nn::Module {
  explicit TiedHead(at::Tensor shared) { weight = register_parameter("weight", shared); }
  at::Tensor weight;
};

struct TinyLM : torch::nn::Module {
  TinyLM() {
    embed = register_module("embed", torch::nn::Embedding(16, 8));
    norm = register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({8})));
    proj = register_module("proj", torch::nn::Linear(8, 8));
    head = register_module("head", std::make_shared<TiedHead>(embed->weight));
  }
  torch::nn::Embedding embed{nullptr};
  torch::nn::LayerNorm norm{nullptr};
  torch::nn::Linear proj{nullptr};
  std::shared_ptr<TiedHead> head;
};

}  // namespace testing
}  // namespace safetensors

#endif  // SAFETENSORS_TORCH_IO_TESTING_TINY_LM_H_

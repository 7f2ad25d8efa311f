// Writes files with our writer for tools that check them with the reference
// (torch_io/testing/reference_interop_test.sh):
//   OUT_DIR/<golden name>   every golden file, loaded and saved again by us
//   OUT_DIR/tiny_lm.safetensors   save_model of the C++ TinyLM whose weights
//                                 are set by a formula the checker knows
#include <cstdio>
#include <string>

#include <ATen/ops/arange.h>
#include <torch/csrc/autograd/grad_mode.h>

#include "parser/header.h"
#include "testdata/golden_manifest.h"
#include "torch_io/load.h"
#include "torch_io/model.h"
#include "torch_io/safe_open.h"
#include "torch_io/save.h"
#include "torch_io/testing/tiny_lm.h"

namespace {

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "interop_writer: %s\n", status.ToString().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUT_DIR\n", argv[0]);
    return 2;
  }
  const std::string out = argv[1];
  for (const auto& golden : safetensors::testing::ReadGoldenManifest()) {
    absl::StatusOr<safetensors::SafeOpen> f = safetensors::safe_open(golden.path);
    if (!f.ok()) return Fail(f.status());
    absl::StatusOr<safetensors::TensorDict> tensors = f->get_tensors();
    if (!tensors.ok()) return Fail(tensors.status());
    const std::string name = golden.path.substr(golden.path.rfind('/') + 1);
    absl::Status saved = safetensors::save_file(*tensors, out + "/" + name, f->metadata());
    if (!saved.ok()) return Fail(saved);
  }
  safetensors::testing::TinyLM model;
  {
    torch::NoGradGuard no_grad;
    const auto f32 = at::TensorOptions().dtype(at::kFloat);
    model.embed->weight.copy_(at::arange(128, f32).reshape({16, 8}).div(64));
    model.norm->weight.copy_(at::arange(8, f32).add(1));
    model.norm->bias.copy_(at::arange(8, f32).neg());
    model.proj->weight.copy_(at::arange(64, f32).reshape({8, 8}).sub(32).div(16));
    model.proj->bias.copy_(at::arange(8, f32).mul(2));
  }
  absl::Status saved = safetensors::save_model(model, out + "/tiny_lm.safetensors");
  if (!saved.ok()) return Fail(saved);
  std::printf("interop_writer: wrote %s\n", out.c_str());
  return 0;
}

// The vocabulary every torch_io call shares: the tensor dictionary and the
// options of a load.
//
//   safetensors::LoadOptions options;
//   options.backend = safetensors::Backend::kPread;
//   options.tensor_filter = "^encoder\\.";
#ifndef SAFETENSORS_TORCH_IO_TYPES_H_
#define SAFETENSORS_TORCH_IO_TYPES_H_

#include <string>

#include <ATen/core/Tensor.h>
#include <torch/ordered_dict.h>

#include "parser/header.h"

namespace safetensors {

// Tensors by name, in file (offset) order: the type LibTorch uses for named
// parameters.
using TensorDict = torch::OrderedDict<std::string, at::Tensor>;

enum class Backend {
  kMmap,   // zero-copy views of a private mapping (default)
  kPread,  // owned memory filled with large positioned reads
};

struct LoadOptions {
  Backend backend = Backend::kMmap;
  // An RE2 pattern; when set, only tensors whose name it matches (anywhere:
  // anchor with ^ and $) exist for this load. RE2 runs in linear time, so a
  // pattern from an untrusted source is safe.
  std::string tensor_filter;
  ParseOptions parse;
  // Threads for the pread backend's large reads; 0 picks one per core (at
  // most 4) for files over 64 MiB.
  int threads = 0;
};

}  // namespace safetensors

#endif  // SAFETENSORS_TORCH_IO_TYPES_H_

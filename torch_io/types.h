// The vocabulary every torch_io call shares: the tensor dictionary and the
// options of a load.
//
//   safetensors::LoadOptions options;
//   options.backend = safetensors::Backend::kPread;
//   options.tensor_filter = "^encoder\\.";
#ifndef SAFETENSORS_TORCH_IO_TYPES_H_
#define SAFETENSORS_TORCH_IO_TYPES_H_

#include <cstdint>
#include <functional>
#include <string>

#include <ATen/core/Tensor.h>
#include <torch/ordered_dict.h>

#include "io/parallel_read.h"
#include "parser/header.h"

namespace safetensors {

// Tensors by name, in file (offset) order: the type LibTorch uses for named
// parameters.
using TensorDict = torch::OrderedDict<std::string, at::Tensor>;

enum class Backend {
  kMmap,   // zero-copy views of a private mapping (default)
  kPread,  // owned memory filled with large positioned reads
};

// How far a load is: bytes_done of bytes_total, tensors_done of
// tensors_total.
using LoadProgress = ReadProgress;

struct LoadOptions {
  Backend backend = Backend::kMmap;
  // An RE2 pattern; when set, only tensors whose name it matches (anywhere:
  // anchor with ^ and $) exist for this load. RE2 runs in linear time, so a
  // pattern from an untrusted source is safe.
  std::string tensor_filter;
  ParseOptions parse;
  // Threads for the pread backend's large reads; 0 picks 4 for loads of
  // 64 MiB and more (reads in flight speed a cold load even on fewer cores).
  int threads = 0;
  // Called as a whole load progresses (load_file, get_tensors,
  // load_checkpoint, load_model, load_torch_model; not single tensors), from
  // the loading threads but one call at a time, never going backwards; the
  // last call has done == total. Keep it quick: reads wait for it.
  std::function<void(const LoadProgress&)> progress;
  // load_model: a tensor that cannot be read straight into the model's (its
  // dtype differs, it is not contiguous, not on the CPU, or shares memory
  // with another) goes through a staging buffer of at most this many bytes
  // at a time (a whole tensor when it cannot be done in pieces).
  uint64_t staging_bytes = uint64_t{64} << 20;
};

}  // namespace safetensors

#endif  // SAFETENSORS_TORCH_IO_TYPES_H_

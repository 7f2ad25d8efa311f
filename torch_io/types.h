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

#include "io/direct_read.h"
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
  // The pread backend's whole loads (load_file, get_tensors,
  // load_checkpoint): whether tensors of 2 MiB and more are read with
  // O_DIRECT, bypassing the page cache. kAuto (default): the parts of a
  // file that are mostly not cached are, when the kernel says which are
  // (to the file's owner, root, or a process that may write it): a cold
  // load then fills only the tensors, not the page cache and then the
  // tensors (1 GiB cold into new memory: 0.31 s instead of 0.75-1.05 s on
  // this project's benchmark machine), and leaves the file uncached. kNever
  // keeps every read in the page cache (as the mmap backend and load_model
  // always do); kAlways reads directly even what is cached. Such a tensor's
  // data sit at its file offset's place modulo 4096 bytes (the alignment its
  // dtype needs is kept; a file offset that would break it is read buffered).
  DirectIo direct_io = DirectIo::kAuto;
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

// safetensors.torch's load_file and load.
//
//   absl::StatusOr<safetensors::TensorDict> tensors =
//       safetensors::load_file("model.safetensors");            // mmap, CPU
//   safetensors::LoadOptions opts;
//   opts.backend = safetensors::Backend::kPread;
//   opts.tensor_filter = "^encoder\\.";
//   auto encoder = safetensors::load_file("model.safetensors", "cuda:0", opts);
#ifndef SAFETENSORS_TORCH_IO_LOAD_H_
#define SAFETENSORS_TORCH_IO_LOAD_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "torch_io/device.h"
#include "torch_io/types.h"

namespace safetensors {

// Every tensor of the file at `path` (those the filter selects), in file
// order, on `device`. With the mmap backend, CPU tensors are zero-copy views
// of a private mapping that lives as long as any of them.
// Errors: as SafeOpen::Open and SafeOpen::get_tensors.
absl::StatusOr<TensorDict> load_file(const std::string& path,
                                     const DeviceSpec& device = "cpu",
                                     const LoadOptions& options = {});

// Every tensor of a whole file held in memory, as CPU tensors that own their
// memory (the bytes may be freed afterwards). options.backend and threads do
// not apply.
// Errors: every parser error (header.h); kUnsupportedDtype; kInvalidTensor;
// kBadArgument for a bad filter pattern.
absl::StatusOr<TensorDict> load(absl::string_view bytes, const LoadOptions& options = {});

}  // namespace safetensors

#endif  // SAFETENSORS_TORCH_IO_LOAD_H_

// What load_model and load_torch_model share: the tensors of one file or of
// every shard of a checkpoint read straight into a module's own tensors.
// Internal to torch_io.
#ifndef SAFETENSORS_TORCH_IO_MODEL_INTERNAL_H_
#define SAFETENSORS_TORCH_IO_MODEL_INTERNAL_H_

#include <torch/nn/module.h>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "torch_io/materialize.h"
#include "torch_io/model.h"
#include "torch_io/types.h"

namespace safetensors {
namespace internal {

// load_model's rules over the selected tensors of `files` (names unique
// across them). Every check (names when strict, shapes, dtypes) is made
// before the first byte is written, so a refused load leaves the model
// untouched (the reference has copied the tensors that fit by then). A
// tensor whose dtype, layout and device match is read straight into the
// model's memory, by a plan of large reads over all files on
// options.threads threads; every other tensor (dtype conversion, not
// contiguous, not on the CPU, or sharing memory with an earlier one) goes
// through a staging buffer of options.staging_bytes, in state-dict order
// after the direct reads, so the last writer of shared memory is the one the
// reference's state-dict order makes last. options.progress hears of every
// tensor. The files are read with positioned reads whatever their backend
// (open them with ForReading). Errors: as load_model; an I/O failure after
// writing began says the model is partly loaded.
// `options` with the pread backend: LoadIntoModel reads every byte with
// positioned reads, so a mapping would cost a system call and nothing more.
inline LoadOptions ForReading(LoadOptions options) {
  options.backend = Backend::kPread;
  return options;
}

// The same rules over tensors already loaded (a torch.save checkpoint's, as
// zero-copy views of its mapping where possible): every check before the
// first copy, then Tensor::copy_ of each into the model's tensor.
absl::StatusOr<LoadModelResult> LoadTensorsIntoModel(torch::nn::Module& model, const TensorDict& tensors,
                                                     bool strict, const LoadOptions& options);

absl::StatusOr<LoadModelResult> LoadIntoModel(torch::nn::Module& model,
                                              absl::Span<const FileToLoad> files, bool strict,
                                              const LoadOptions& options);

}  // namespace internal
}  // namespace safetensors

#endif  // SAFETENSORS_TORCH_IO_MODEL_INTERNAL_H_

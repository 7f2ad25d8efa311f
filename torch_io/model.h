// safetensors.torch's save_model and load_model: whole modules, with tied
// (shared) weights handled exactly as the reference does.
//
//   auto model = std::make_shared<MyModel>();
//   absl::Status saved = safetensors::save_model(*model, "model.safetensors");
//   absl::StatusOr<safetensors::LoadModelResult> r =
//       safetensors::load_model(*model, "model.safetensors");
//
// Shared tensors: of each group of names whose memory overlaps, the file keeps
// one, the lexicographically first name that covers the whole storage (on
// load, names present in the file are preferred), and save_model records each
// dropped name in the metadata as `dropped: kept` unless the caller's
// metadata already has that key.
#ifndef SAFETENSORS_TORCH_IO_MODEL_H_
#define SAFETENSORS_TORCH_IO_MODEL_H_

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <torch/nn/module.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "parser/header.h"
#include "torch_io/device.h"
#include "torch_io/types.h"

namespace safetensors {

struct LoadModelResult {
  std::vector<std::string> missing;     // in the model, not set from the file (sorted)
  std::vector<std::string> unexpected;  // in the file, not used (sorted)
};

// Saves `model`'s parameters and buffers (as Python's state_dict names them)
// to `path` with save_file, dropping duplicate names of shared tensors.
// force_contiguous packs non-contiguous tensors first.
// Errors: kInvalidTensor (a shared group none of whose names covers its whole
// storage; non-contiguous tensors without force_contiguous), and save_file's.
absl::Status save_model(const torch::nn::Module& model, const std::string& path,
                        std::optional<MetadataEntries> metadata = std::nullopt,
                        bool force_contiguous = true);

// Reads the file's tensors into `model`'s parameters and buffers and reports
// names missing or unexpected, counting a shared tensor's dropped names as
// present. One pass over the bytes: a tensor of the model's dtype is read
// straight into its memory, others convert (as Tensor::copy_) through a
// staging buffer of options.staging_bytes; no state dict is built, so the
// extra memory is the staging budget, not the model's size. `device` only
// checks the spec (the model's tensors stay where they are); the backend
// does not matter (reads are positioned reads into the model's memory).
// A refused load (strict and a name missing or unexpected, a shape that
// differs) writes nothing; the reference copies what fits first. A
// torch.save file (told by its content) is read as data
// (load_pickle_file, pickle_load.h), its tensors views of its mapping, then
// copied in with the same rules.
// Errors: kBadArgument for those refusals (the reference's messages);
// load_file's errors; an I/O error mid-load says the model is partly loaded.
absl::StatusOr<LoadModelResult> load_model(torch::nn::Module& model, const std::string& path,
                                           bool strict = true, const DeviceSpec& device = "cpu",
                                           const LoadOptions& options = {});

namespace internal {

// Python's Module.state_dict(): each module's parameters then buffers, in
// registration order, modules in pre-order, names joined with '.'; undefined
// tensors skipped. The tensors share memory with the module's.
TensorDict StateDict(const torch::nn::Module& model);

}  // namespace internal
}  // namespace safetensors

#endif  // SAFETENSORS_TORCH_IO_MODEL_H_

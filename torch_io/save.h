// safetensors.torch's save and save_file.
//
//   safetensors::TensorDict tensors;
//   tensors.insert("w", torch::randn({2, 3}));
//   absl::Status s = safetensors::save_file(tensors, "out.safetensors",
//                                           safetensors::MetadataEntries{{"format", "pt"}});
//
// The file is the canonical form (parser/header_writer.h): for the same
// tensors and at most one metadata entry, byte for byte what the reference
// writes.
#ifndef SAFETENSORS_TORCH_IO_SAVE_H_
#define SAFETENSORS_TORCH_IO_SAVE_H_

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "parser/header.h"
#include "torch_io/types.h"

namespace safetensors {

// The file's bytes. Tensors must be dense and contiguous and must not share
// storage (the reference's rules, with its advice: call .contiguous(), or use
// save_model for tied weights); tensors on other devices are copied to CPU one
// at a time.
// Errors: kInvalidTensor (undefined, sparse, non-contiguous, shared storage,
// a dimension or dtype the format cannot hold) and the header writer's errors
// (kDuplicateKey for metadata keys, kBadArgument for non-UTF-8 names...).
absl::StatusOr<std::string> save(const TensorDict& tensors,
                                 const std::optional<MetadataEntries>& metadata = std::nullopt);

// Writes the same bytes to `path` atomically (io/atomic_file.h): into a new
// file in the same directory, straight from each tensor's memory (no staging
// buffer), fsync, then rename over `path`. On any failure `path` is untouched
// and the temporary file removed; a killed process can leave only a
// "<name>.tmp-<pid>-<hex>" file beside it. Replacing keeps `path`'s
// permissions. Replacing a file that load_file has mapped is safe: the
// mapping keeps the old file's contents.
// Errors: as save, and kIoError.
absl::Status save_file(const TensorDict& tensors, const std::string& path,
                       const std::optional<MetadataEntries>& metadata = std::nullopt);

}  // namespace safetensors

#endif  // SAFETENSORS_TORCH_IO_SAVE_H_

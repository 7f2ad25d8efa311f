// What save_file and the checkpoint writer share: a file's bytes written to a
// flushed temporary beside its target, renamed only when the caller commits.
// Internal to torch_io.
#ifndef SAFETENSORS_TORCH_IO_SAVE_INTERNAL_H_
#define SAFETENSORS_TORCH_IO_SAVE_INTERNAL_H_

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "io/atomic_file.h"
#include "parser/tensor_info.h"
#include "torch_io/types.h"

namespace safetensors {
namespace internal {

// save()'s bytes for `tensors`, in a finished (flushed, closed) temporary file
// for `path`; Commit() on the result puts it in place, dropping it removes it.
// Errors: as save_file.
absl::StatusOr<AtomicFileWriter> WriteToTemporary(const TensorDict& tensors,
                                                  const std::string& path,
                                                  const std::optional<MetadataEntries>& metadata);

}  // namespace internal
}  // namespace safetensors

#endif  // SAFETENSORS_TORCH_IO_SAVE_INTERNAL_H_

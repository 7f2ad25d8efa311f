// The lazy handle of safetensors.torch, `safe_open`: validates a file's header
// once, then serves tensors, slices and metadata on demand.
//
//   absl::StatusOr<safetensors::SafeOpen> f = safetensors::safe_open("model.safetensors");
//   for (const std::string& name : f->keys()) {
//     absl::StatusOr<at::Tensor> t = f->get_tensor(name);
//   }
//   absl::StatusOr<safetensors::TensorSlice> s = f->get_slice("embed.weight");
//   at::Tensor rows = *s->get({SliceIndex::Range(0, 8)});  // reads 8 rows only
//
// Nothing is allocated for tensors, and the file is not mapped, until the whole
// header has validated. The file stays open (and mapped) while the handle or
// any tensor it returned lives; tensors from the mmap backend are zero-copy
// views of a private copy-on-write mapping, so writing to them never changes
// the file, and a file being mapped can be replaced (save_file renames over
// it) safely.
#ifndef SAFETENSORS_TORCH_IO_SAFE_OPEN_H_
#define SAFETENSORS_TORCH_IO_SAFE_OPEN_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "parser/header.h"
#include "torch_io/device.h"
#include "torch_io/slice.h"
#include "torch_io/types.h"

namespace safetensors {

namespace internal {
struct OpenFile;
}  // namespace internal

class SafeOpen {
 public:
  // Opens and validates `path`. Errors: kIoError; every parser error
  // (header.h); kBadArgument for a bad device or filter pattern.
  static absl::StatusOr<SafeOpen> Open(const std::string& path,
                                       const DeviceSpec& device = "cpu",
                                       const LoadOptions& options = {});

  // Tensor names sorted (as the reference's keys()), and in file order.
  std::vector<std::string> keys() const;
  std::vector<std::string> offset_keys() const;

  // The header's __metadata__ (nullopt when absent or null).
  const std::optional<MetadataEntries>& metadata() const;

  // Every tensor's dtype, shape and offsets, without reading data.
  const Header& header() const;

  // Errors: kTensorNotFound; kUnsupportedDtype; kInvalidTensor; kIoError.
  absl::StatusOr<at::Tensor> get_tensor(absl::string_view name) const;
  absl::StatusOr<TensorDict> get_tensors() const;
  absl::StatusOr<TensorSlice> get_slice(absl::string_view name) const;

 private:
  friend class CheckpointReader;  // opens each shard from its validated header
  explicit SafeOpen(std::shared_ptr<const internal::OpenFile> file)
      : file_(std::move(file)) {}
  absl::StatusOr<const TensorInfo*> Lookup(absl::string_view name) const;
  std::shared_ptr<const internal::OpenFile> file_;
};

// Python's `safe_open(filename, framework="pt", device=...)`.
inline absl::StatusOr<SafeOpen> safe_open(const std::string& path,
                                          const DeviceSpec& device = "cpu",
                                          const LoadOptions& options = {}) {
  return SafeOpen::Open(path, device, options);
}

}  // namespace safetensors

#endif  // SAFETENSORS_TORCH_IO_SAFE_OPEN_H_

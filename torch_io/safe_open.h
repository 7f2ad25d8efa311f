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
#include <torch/ordered_dict.h>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "parser/header.h"
#include "torch_io/device.h"

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

// One dimension of a slice, as Python's a[start:stop:step] or a[i].
class SliceIndex {
 public:
  // start:stop:step with Python's rules: negative positions count from the
  // end, out-of-range bounds are clamped, omitted ones mean the whole range.
  // step must be positive.
  static SliceIndex Range(std::optional<int64_t> start, std::optional<int64_t> stop,
                          int64_t step = 1) {
    return SliceIndex(Kind::kRange, start, stop, step);
  }
  // A single position (negative counts from the end); drops the dimension.
  static SliceIndex At(int64_t index) { return SliceIndex(Kind::kAt, index, {}, 1); }
  // The whole dimension (Python's `:`).
  static SliceIndex All() { return Range(std::nullopt, std::nullopt); }
  // As many whole dimensions as needed (Python's `...`).
  static SliceIndex Ellipsis() { return SliceIndex(Kind::kEllipsis, {}, {}, 1); }

  enum class Kind { kRange, kAt, kEllipsis };
  Kind kind() const { return kind_; }
  std::optional<int64_t> start() const { return start_; }
  std::optional<int64_t> stop() const { return stop_; }
  int64_t step() const { return step_; }

 private:
  SliceIndex(Kind kind, std::optional<int64_t> start, std::optional<int64_t> stop,
             int64_t step)
      : kind_(kind), start_(start), stop_(stop), step_(step) {}
  Kind kind_;
  std::optional<int64_t> start_, stop_;
  int64_t step_;
};

namespace internal {
struct OpenFile;
}  // namespace internal

// A tensor that get_slice returned: its layout, and reads of any part of it.
class TensorSlice {
 public:
  const TensorInfo& info() const { return *info_; }
  // The file's shape and dtype name, as the reference's get_shape/get_dtype.
  std::vector<uint64_t> get_shape() const;
  std::string get_dtype() const;

  // The selected part, reading only the bytes it needs. Fewer indices than
  // dimensions select the rest whole. For F4, the last dimension must be
  // sliced in whole bytes (even start and stop, step 1).
  // Errors: kBadArgument (too many indices, step <= 0, index out of
  // range, two ellipses, F4 half bytes), kUnsupportedDtype, kIoError.
  absl::StatusOr<at::Tensor> get(absl::Span<const SliceIndex> indices) const;

 private:
  friend class SafeOpen;
  TensorSlice(std::shared_ptr<const internal::OpenFile> file, const TensorInfo* info)
      : file_(std::move(file)), info_(info) {}
  std::shared_ptr<const internal::OpenFile> file_;
  const TensorInfo* info_;
};

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

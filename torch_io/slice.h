// Reading part of a tensor, as Python's f.get_slice(name)[0:8, ::2]: only the
// bytes the selection needs are read.
//
//   absl::StatusOr<safetensors::TensorSlice> s = f->get_slice("embed.weight");
//   at::Tensor rows = *s->get({SliceIndex::Range(0, 8)});  // reads 8 rows only
#ifndef SAFETENSORS_TORCH_IO_SLICE_H_
#define SAFETENSORS_TORCH_IO_SLICE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "parser/tensor_info.h"

namespace safetensors {

namespace internal {
struct OpenFile;
}  // namespace internal

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

}  // namespace safetensors

#endif  // SAFETENSORS_TORCH_IO_SLICE_H_

// Which LibTorch dtype holds each safetensors dtype, as the reference's
// safetensors.torch maps them. Dtypes this LibTorch lacks (LibTorch 1.13 has
// no unsigned 16/32/64-bit, float8 or float4 types; none has F6) are detected
// at compile time and refused with kUnsupportedDtype, naming the tensor.
//
// F4 packs two 4-bit values per byte; LibTorch's float4_e2m1fn_x2 element is
// that byte, so the file's shape [..., 2n] is the tensor's shape [..., n].
#ifndef SAFETENSORS_TORCH_IO_DTYPE_MAP_H_
#define SAFETENSORS_TORCH_IO_DTYPE_MAP_H_

#include <cstdint>
#include <vector>

#include <c10/core/ScalarType.h>
#include <c10/util/ArrayRef.h>
#include <torch/version.h>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "parser/dtype.h"
#include "parser/header.h"

// The LibTorch versions that added each dtype; code that names a newer dtype
// (the map, tests) is compiled only where it exists.
#define SAFETENSORS_TORCH_AT_LEAST(major, minor) \
  (TORCH_VERSION_MAJOR > (major) ||              \
   (TORCH_VERSION_MAJOR == (major) && TORCH_VERSION_MINOR >= (minor)))
#define SAFETENSORS_HAS_FLOAT8 SAFETENSORS_TORCH_AT_LEAST(2, 1)
#define SAFETENSORS_HAS_FLOAT8_FNUZ SAFETENSORS_TORCH_AT_LEAST(2, 2)
#define SAFETENSORS_HAS_UNSIGNED SAFETENSORS_TORCH_AT_LEAST(2, 3)
#define SAFETENSORS_HAS_FLOAT8_E8M0 SAFETENSORS_TORCH_AT_LEAST(2, 7)
#define SAFETENSORS_HAS_FLOAT4 SAFETENSORS_TORCH_AT_LEAST(2, 8)

namespace safetensors {

// The LibTorch dtype for `dtype`. `tensor` names the tensor in the error.
// Errors: kUnsupportedDtype when this LibTorch has no such dtype.
absl::StatusOr<c10::ScalarType> ToScalarType(Dtype dtype, absl::string_view tensor);

// The safetensors dtype for a LibTorch dtype.
// Errors: kUnsupportedDtype for dtypes the format lacks (complex128, qint8...).
absl::StatusOr<Dtype> FromScalarType(c10::ScalarType type, absl::string_view tensor);

// The LibTorch sizes of a tensor stored with `dtype` and file shape `shape`.
// Errors: kInvalidTensor for a dimension above INT64_MAX, or an F4 tensor
// whose last dimension is odd (or that is a scalar).
absl::StatusOr<std::vector<int64_t>> ToTorchSizes(Dtype dtype,
                                                  absl::Span<const uint64_t> shape,
                                                  absl::string_view tensor);

// The F4 packing rule, in one place: how many of the file's elements one
// LibTorch element holds along the last dimension (2 for F4, whose LibTorch
// element float4_e2m1fn_x2 is one byte of two 4-bit values; 1 otherwise).
uint64_t FileElementsPerTorchElement(Dtype dtype);

// How LibTorch holds a tensor the header describes.
struct TorchLayout {
  c10::ScalarType type;
  std::vector<int64_t> sizes;
};

// ToScalarType and ToTorchSizes for `tensor`, with their errors.
absl::StatusOr<TorchLayout> ToTorchLayout(const TensorInfo& tensor);

// The file shape of a LibTorch tensor of `dtype` with `sizes`.
// Errors: kInvalidTensor for a 0-dim F4 tensor (F4 packs its two values per
// byte along the last dimension, which a 0-dim tensor lacks).
absl::StatusOr<std::vector<uint64_t>> ToFileShape(Dtype dtype, c10::IntArrayRef sizes,
                                                  absl::string_view tensor);

}  // namespace safetensors

#endif  // SAFETENSORS_TORCH_IO_DTYPE_MAP_H_

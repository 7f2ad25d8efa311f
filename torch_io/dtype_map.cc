#include "torch_io/dtype_map.h"

#include <limits>
#include <string>

#include "absl/strings/str_cat.h"
#include "parser/error.h"
#include "parser/status_macros.h"

namespace safetensors {
namespace {

struct Pair {
  Dtype dtype;
  c10::ScalarType type;
};

constexpr Pair kPairs[] = {
    {Dtype::kBool, c10::ScalarType::Bool},
    {Dtype::kU8, c10::ScalarType::Byte},
    {Dtype::kI8, c10::ScalarType::Char},
    {Dtype::kI16, c10::ScalarType::Short},
    {Dtype::kI32, c10::ScalarType::Int},
    {Dtype::kI64, c10::ScalarType::Long},
    {Dtype::kF16, c10::ScalarType::Half},
    {Dtype::kBF16, c10::ScalarType::BFloat16},
    {Dtype::kF32, c10::ScalarType::Float},
    {Dtype::kF64, c10::ScalarType::Double},
    {Dtype::kC64, c10::ScalarType::ComplexFloat},
#if SAFETENSORS_HAS_UNSIGNED
    {Dtype::kU16, c10::ScalarType::UInt16},
    {Dtype::kU32, c10::ScalarType::UInt32},
    {Dtype::kU64, c10::ScalarType::UInt64},
#endif
#if SAFETENSORS_HAS_FLOAT8
    {Dtype::kF8_E4M3, c10::ScalarType::Float8_e4m3fn},
    {Dtype::kF8_E5M2, c10::ScalarType::Float8_e5m2},
#endif
#if SAFETENSORS_HAS_FLOAT8_FNUZ
    {Dtype::kF8_E4M3FNUZ, c10::ScalarType::Float8_e4m3fnuz},
    {Dtype::kF8_E5M2FNUZ, c10::ScalarType::Float8_e5m2fnuz},
#endif
#if SAFETENSORS_HAS_FLOAT8_E8M0
    {Dtype::kF8_E8M0, c10::ScalarType::Float8_e8m0fnu},
#endif
#if SAFETENSORS_HAS_FLOAT4
    {Dtype::kF4, c10::ScalarType::Float4_e2m1fn_x2},
#endif
};

}  // namespace

absl::StatusOr<c10::ScalarType> ToScalarType(Dtype dtype, absl::string_view tensor) {
  for (const Pair& pair : kPairs) {
    if (pair.dtype == dtype) return pair.type;
  }
  return MakeError(ErrorCode::kUnsupportedDtype,
                   absl::StrCat("tensor ", QuoteForMessage(tensor), ": dtype ",
                                DtypeName(dtype), " has no equivalent in this LibTorch (",
                                TORCH_VERSION_MAJOR, ".", TORCH_VERSION_MINOR, ")"));
}

absl::StatusOr<Dtype> FromScalarType(c10::ScalarType type, absl::string_view tensor) {
  for (const Pair& pair : kPairs) {
    if (pair.type == type) return pair.dtype;
  }
  return MakeError(ErrorCode::kUnsupportedDtype,
                   absl::StrCat("tensor ", QuoteForMessage(tensor), ": LibTorch dtype ",
                                c10::toString(type), " has no safetensors equivalent"));
}

uint64_t FileElementsPerTorchElement(Dtype dtype) { return dtype == Dtype::kF4 ? 2 : 1; }

absl::StatusOr<std::vector<int64_t>> ToTorchSizes(Dtype dtype,
                                                  absl::Span<const uint64_t> shape,
                                                  absl::string_view tensor) {
  std::vector<int64_t> sizes;
  sizes.reserve(shape.size());
  for (uint64_t dim : shape) {
    if (dim > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return MakeError(ErrorCode::kInvalidTensor,
                       absl::StrCat("tensor ", QuoteForMessage(tensor), ": dimension ",
                                    dim, " exceeds LibTorch's int64 sizes"));
    }
    sizes.push_back(static_cast<int64_t>(dim));
  }
  const int64_t packed = static_cast<int64_t>(FileElementsPerTorchElement(dtype));
  if (packed > 1) {
    if (sizes.empty() || sizes.back() % packed != 0) {
      return MakeError(
          ErrorCode::kInvalidTensor,
          absl::StrCat("tensor ", QuoteForMessage(tensor),
                       ": an F4 tensor needs an even last dimension to be a "
                       "float4_e2m1fn_x2 tensor (two values per byte)"));
    }
    sizes.back() /= packed;
  }
  return sizes;
}

absl::StatusOr<TorchLayout> ToTorchLayout(const TensorInfo& tensor) {
  SAFETENSORS_ASSIGN_OR_RETURN(const c10::ScalarType type,
                               ToScalarType(tensor.dtype, tensor.name));
  SAFETENSORS_ASSIGN_OR_RETURN(std::vector<int64_t> sizes,
                               ToTorchSizes(tensor.dtype, tensor.shape, tensor.name));
  return TorchLayout{type, std::move(sizes)};
}

absl::StatusOr<std::vector<uint64_t>> ToFileShape(Dtype dtype, c10::IntArrayRef sizes,
                                                  absl::string_view tensor) {
  std::vector<uint64_t> shape(sizes.begin(), sizes.end());
  const uint64_t packed = FileElementsPerTorchElement(dtype);
  if (packed > 1) {
    if (shape.empty()) {
      return MakeError(ErrorCode::kInvalidTensor,
                       absl::StrCat("tensor ", QuoteForMessage(tensor),
                                    ": a 0-dim float4_e2m1fn_x2 tensor has no file form (F4 "
                                    "stores its two values per byte along the last "
                                    "dimension); reshape it to [1]"));
    }
    shape.back() *= packed;
  }
  return shape;
}

}  // namespace safetensors

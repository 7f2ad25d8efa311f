#include "parser/tensor_info.h"

#include "absl/base/optimization.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "parser/checked_math.h"
#include "parser/error.h"
#include "parser/status_macros.h"

namespace safetensors {

bool operator==(const TensorInfo& a, const TensorInfo& b) {
  return a.name == b.name && a.dtype == b.dtype && a.shape == b.shape &&
         a.data_begin == b.data_begin && a.data_end == b.data_end;
}

uint64_t TensorInfo::num_elements() const {
  uint64_t count = 1;
  for (uint64_t dim : shape) count *= dim;  // validated: no overflow
  return count;
}

std::string ShapeForMessage(absl::Span<const uint64_t> shape) {
  constexpr size_t kMaxDims = 8;
  if (shape.size() <= kMaxDims) return absl::StrCat("[", absl::StrJoin(shape, ", "), "]");
  return absl::StrCat("[", absl::StrJoin(shape.first(kMaxDims), ", "), ", ... (",
                      shape.size(), " dimensions)]");
}

absl::StatusOr<uint64_t> ReferenceByteSize(absl::string_view name, Dtype dtype,
                                           absl::Span<const uint64_t> shape) {
  uint64_t count = 1;
  for (uint64_t dim : shape) {
    if (ABSL_PREDICT_FALSE(!CheckedMul(count, dim, &count))) {
      return MakeError(ErrorCode::kValidationOverflow,
                       absl::StrCat("tensor ", QuoteForMessage(name), ": shape ",
                                    ShapeForMessage(shape),
                                    " has more elements than fit in 64 bits"));
    }
  }
  uint64_t bits;
  if (ABSL_PREDICT_FALSE(!CheckedMul(count, DtypeBits(dtype), &bits))) {
    return MakeError(ErrorCode::kValidationOverflow,
                     absl::StrCat("tensor ", QuoteForMessage(name), ": ", count, " ",
                                  DtypeName(dtype),
                                  " elements are more bits than fit in 64 bits"));
  }
  if (ABSL_PREDICT_FALSE(bits % 8 != 0)) {
    return MakeError(ErrorCode::kMisalignedSlice,
                     absl::StrCat("tensor ", QuoteForMessage(name), ": ", count, " ",
                                  DtypeName(dtype), " elements are ", bits,
                                  " bits, not a whole number of bytes"));
  }
  return bits / 8;
}

absl::Status CheckSizeIgnoringZeroDims(absl::string_view name, Dtype dtype,
                                       absl::Span<const uint64_t> shape) {
  uint64_t bits = DtypeBits(dtype);
  for (uint64_t dim : shape) {
    if (dim == 0) continue;
    if (ABSL_PREDICT_FALSE(!CheckedMul(bits, dim, &bits))) {
      return MakeError(ErrorCode::kValidationOverflow,
                       absl::StrCat("tensor ", QuoteForMessage(name), ": shape ",
                                    ShapeForMessage(shape), " of ", DtypeName(dtype),
                                    " overflows 64 bits when its zero dimensions are "
                                    "ignored"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> TensorByteSize(absl::string_view name, Dtype dtype,
                                        absl::Span<const uint64_t> shape) {
  SAFETENSORS_ASSIGN_OR_RETURN(const uint64_t bytes, ReferenceByteSize(name, dtype, shape));
  SAFETENSORS_RETURN_IF_ERROR(CheckSizeIgnoringZeroDims(name, dtype, shape));
  return bytes;
}

bool CanonicalOrderLess(Dtype a_dtype, absl::string_view a_name, Dtype b_dtype,
                        absl::string_view b_name) {
  if (a_dtype != b_dtype) return a_dtype > b_dtype;
  return a_name < b_name;
}

}  // namespace safetensors

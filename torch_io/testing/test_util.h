// Helpers for torch_io tests. Compiles against every supported LibTorch:
// dtypes newer than 1.13 are named only where the linked version has them.
#ifndef SAFETENSORS_TORCH_IO_TESTING_TEST_UTIL_H_
#define SAFETENSORS_TORCH_IO_TESTING_TEST_UTIL_H_

#include <map>
#include <string>

#include <ATen/core/Tensor.h>
#include <c10/core/ScalarType.h>

#include "absl/strings/string_view.h"
#include "gtest/gtest.h"
#include "testdata/test_files.h"
#include "torch_io/dtype_map.h"

namespace safetensors {
namespace testing {

// The bytes of a contiguous CPU tensor.
inline absl::string_view TensorBytes(const at::Tensor& t) {
  EXPECT_TRUE(t.is_contiguous());
  EXPECT_TRUE(t.device().is_cpu());
  return absl::string_view(static_cast<const char*>(t.data_ptr()), t.nbytes());
}

inline std::string TensorSha256(const at::Tensor& t) { return Sha256Hex(TensorBytes(t)); }

// Python's name for a dtype ("float32"), as the golden manifest records it.
inline std::string PythonDtypeName(c10::ScalarType type) {
  static const auto* names = new std::map<c10::ScalarType, std::string>{
      {c10::ScalarType::Bool, "bool"},
      {c10::ScalarType::Byte, "uint8"},
      {c10::ScalarType::Char, "int8"},
      {c10::ScalarType::Short, "int16"},
      {c10::ScalarType::Int, "int32"},
      {c10::ScalarType::Long, "int64"},
      {c10::ScalarType::Half, "float16"},
      {c10::ScalarType::BFloat16, "bfloat16"},
      {c10::ScalarType::Float, "float32"},
      {c10::ScalarType::Double, "float64"},
      {c10::ScalarType::ComplexFloat, "complex64"},
#if SAFETENSORS_HAS_UNSIGNED
      {c10::ScalarType::UInt16, "uint16"},
      {c10::ScalarType::UInt32, "uint32"},
      {c10::ScalarType::UInt64, "uint64"},
#endif
#if SAFETENSORS_HAS_FLOAT8
      {c10::ScalarType::Float8_e4m3fn, "float8_e4m3fn"},
      {c10::ScalarType::Float8_e5m2, "float8_e5m2"},
#endif
#if SAFETENSORS_HAS_FLOAT8_FNUZ
      {c10::ScalarType::Float8_e4m3fnuz, "float8_e4m3fnuz"},
      {c10::ScalarType::Float8_e5m2fnuz, "float8_e5m2fnuz"},
#endif
#if SAFETENSORS_HAS_FLOAT8_E8M0
      {c10::ScalarType::Float8_e8m0fnu, "float8_e8m0fnu"},
#endif
#if SAFETENSORS_HAS_FLOAT4
      {c10::ScalarType::Float4_e2m1fn_x2, "float4_e2m1fn_x2"},
#endif
  };
  auto it = names->find(type);
  return it == names->end() ? std::string(c10::toString(type)) : it->second;
}

}  // namespace testing
}  // namespace safetensors

#endif  // SAFETENSORS_TORCH_IO_TESTING_TEST_UTIL_H_

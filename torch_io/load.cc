#include "torch_io/load.h"

#include <cstring>

#include <ATen/ops/empty.h>

#include "absl/strings/str_cat.h"
#include "parser/error.h"
#include "parser/header.h"
#include "parser/status_macros.h"
#include "torch_io/dtype_map.h"
#include "torch_io/tensor_filter.h"
#include "torch_io/torch_errors.h"

namespace safetensors {

absl::StatusOr<TensorDict> load_file(const std::string& path, const DeviceSpec& device,
                                     const LoadOptions& options) {
  SAFETENSORS_ASSIGN_OR_RETURN(SafeOpen file, SafeOpen::Open(path, device, options));
  return file.get_tensors();
}

absl::StatusOr<TensorDict> load(absl::string_view bytes, const LoadOptions& options) {
  SAFETENSORS_ASSIGN_OR_RETURN(const internal::TensorFilter filter,
                               internal::TensorFilter::Compile(options.tensor_filter));
  SAFETENSORS_ASSIGN_OR_RETURN(Header header, ParseHeader(bytes, options.parse));
  TensorDict tensors;
  tensors.reserve(header.tensors().size());
  for (const TensorInfo& t : header.tensors()) {
    if (!filter.Selects(t.name)) continue;
    SAFETENSORS_ASSIGN_OR_RETURN(TorchLayout layout, ToTorchLayout(t));
    SAFETENSORS_ASSIGN_OR_RETURN(at::Tensor tensor, CallTorch("allocating a tensor", [&] {
                                   return at::empty(layout.sizes,
                                                    at::TensorOptions().dtype(layout.type));
                                 }));
    if (t.num_bytes() > 0) {
      // In range: ParseHeader checked every tensor lies inside `bytes`.
      const absl::string_view data =
          bytes.substr(static_cast<size_t>(header.data_offset() + t.data_begin),
                       static_cast<size_t>(t.num_bytes()));
      std::memcpy(tensor.data_ptr(), data.data(), data.size());
    }
    tensors.insert(std::string(t.name), std::move(tensor));
  }
  return tensors;
}

}  // namespace safetensors

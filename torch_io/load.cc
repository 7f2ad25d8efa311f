#include "torch_io/load.h"

#include "parser/header.h"
#include "parser/status_macros.h"
#include "torch_io/materialize.h"
#include "torch_io/safe_open.h"
#include "io/tensor_filter.h"

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
    // In range: ParseHeader checked every tensor lies inside `bytes`.
    const absl::string_view data =
        bytes.substr(static_cast<size_t>(header.data_offset() + t.data_begin),
                     static_cast<size_t>(t.num_bytes()));
    SAFETENSORS_ASSIGN_OR_RETURN(
        at::Tensor tensor,
        internal::CopyToNewTensor(
            t, absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(data.data()), data.size())));
    tensors.insert(std::string(t.name), std::move(tensor));
  }
  return tensors;
}

}  // namespace safetensors

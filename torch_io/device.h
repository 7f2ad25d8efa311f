// Where loaded tensors go, given as Python's safetensors.torch takes it: a
// string ("cpu", "cuda", "cuda:1", any torch.device string), an integer (CUDA
// device i), or a c10::Device.
#ifndef SAFETENSORS_TORCH_IO_DEVICE_H_
#define SAFETENSORS_TORCH_IO_DEVICE_H_

#include <string>
#include <variant>

#include <c10/core/Device.h>

#include "absl/status/statusor.h"

namespace safetensors {

class DeviceSpec {
 public:
  DeviceSpec(const char* device) : spec_(std::string(device)) {}  // NOLINT: implicit on purpose
  DeviceSpec(std::string device) : spec_(std::move(device)) {}    // NOLINT
  DeviceSpec(int cuda_index) : spec_(cuda_index) {}               // NOLINT
  DeviceSpec(c10::Device device) : spec_(device) {}               // NOLINT

  // The device, if this LibTorch on this machine can put tensors there.
  // Errors: kBadArgument for an unparsable string, a negative index, or a
  // device type or index that is not available (say, CUDA on a CPU build).
  absl::StatusOr<c10::Device> Resolve() const;

 private:
  std::variant<std::string, int, c10::Device> spec_;
};

}  // namespace safetensors

#endif  // SAFETENSORS_TORCH_IO_DEVICE_H_

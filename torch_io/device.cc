#include "torch_io/device.h"

#include <ATen/Context.h>
#include <c10/util/Exception.h>

#include "absl/strings/str_cat.h"
#include "parser/error.h"

namespace safetensors {
namespace {

absl::Status Unavailable(const c10::Device& device, absl::string_view why) {
  return MakeError(ErrorCode::kBadArgument,
                   absl::StrCat("device \"", device.str(), "\" is not available: ", why));
}

}  // namespace

absl::StatusOr<c10::Device> DeviceSpec::Resolve() const {
  c10::Device device(c10::kCPU);
  if (const int* index = std::get_if<int>(&spec_)) {
    if (*index < 0) {
      return MakeError(ErrorCode::kBadArgument,
                       absl::StrCat("device index ", *index, " is negative"));
    }
    device = c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(*index));
  } else if (const std::string* text = std::get_if<std::string>(&spec_)) {
    try {
      device = c10::Device(*text);
    } catch (const c10::Error&) {
      return MakeError(ErrorCode::kBadArgument,
                       absl::StrCat("cannot parse device ", QuoteForMessage(*text),
                                    " (expected e.g. \"cpu\", \"cuda\", \"cuda:1\")"));
    }
  } else {
    device = std::get<c10::Device>(spec_);
  }
  switch (device.type()) {
    case c10::kCPU:
      return device;
    case c10::kCUDA:
      if (!at::hasCUDA()) return Unavailable(device, "this LibTorch has no CUDA device");
      if (device.has_index() &&
          static_cast<size_t>(device.index()) >= at::getNumGPUs()) {
        return Unavailable(device, absl::StrCat("there are ", at::getNumGPUs(),
                                                " CUDA devices"));
      }
      return device;
    default:
      return Unavailable(device, "only CPU and CUDA devices are supported");
  }
}

}  // namespace safetensors

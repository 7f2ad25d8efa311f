// A program in another workspace that uses safetensors-cpp's public API.
#include <iostream>

#include "torch_io/safetensors.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: consumer FILE\n";
    return 2;
  }
  absl::StatusOr<safetensors::TensorDict> tensors = safetensors::load_file(argv[1]);
  if (!tensors.ok()) {
    std::cerr << "consumer: " << tensors.status() << "\n";
    return 1;
  }
  int64_t elements = 0;
  for (const auto& item : *tensors) elements += item.value().numel();
  std::cout << "consumer: " << tensors->size() << " tensors, " << elements << " elements\n";
  return 0;
}

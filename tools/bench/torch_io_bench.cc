// Timings for tools/bench/bench_torch_io.py, one JSON object per run:
//
//   torch_io_bench load FILE mmap|pread TOUCH ITERATIONS
//       load_file; TOUCH=1 also reads every byte (a sum), so the lazily
//       mapped pages are paid for
//   torch_io_bench plain_pread FILE ITERATIONS
//       the physical limit for an owned copy: a pread loop per tensor into
//       memory malloc'd per tensor, as load_file allocates
//   torch_io_bench save FILE OUT ITERATIONS
//       save_file of FILE's tensors (loaded once, owned) to OUT
//   torch_io_bench plain_write FILE OUT FSYNC ITERATIONS
//       write() of the same bytes (header then each tensor) to OUT
//   torch_io_bench torch_save FILE OUT ITERATIONS / torch_load OUT ITERATIONS
//       LibTorch's own torch::save / torch::load of the same tensors
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include <ATen/ops/sum.h>
#include <torch/serialize.h>

#include "absl/strings/str_cat.h"
#include "parser/header.h"
#include "tools/bench/bench_util.h"
#include "torch_io/safetensors.h"

namespace {

using ::safetensors::bench::Check;
using ::safetensors::bench::Count;
using ::safetensors::bench::Die;

// Runs `fn` `iterations` times; prints the median and minimum in seconds.
void Time(const std::string& what, int iterations, const std::function<void()>& fn) {
  std::vector<double> seconds;
  for (int i = 0; i < iterations; ++i) {
    const auto start = std::chrono::steady_clock::now();
    fn();
    seconds.push_back(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(seconds.begin(), seconds.end());
  std::printf("{\"what\":\"%s\",\"median_s\":%.6f,\"min_s\":%.6f}\n", what.c_str(),
              seconds[seconds.size() / 2], seconds.front());
}

safetensors::TensorDict LoadOwned(const std::string& path) {
  safetensors::LoadOptions options;
  options.backend = safetensors::Backend::kPread;
  return Check(safetensors::load_file(path, "cpu", options));
}

void WriteAll(int fd, const void* data, size_t size) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t n = ::write(fd, p, size);
    if (n <= 0) Die("write failed");
    p += n;
    size -= static_cast<size_t>(n);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) Die("usage: see the comment at the top of torch_io_bench.cc");
  const std::string command = argv[1], file = argv[2];
  if (command == "load" && argc == 6) {
    safetensors::LoadOptions options;
    options.backend = std::string(argv[3]) == "pread" ? safetensors::Backend::kPread
                                                       : safetensors::Backend::kMmap;
    const bool touch = Count(argv[4]) != 0;
    Time(absl::StrCat("load_", argv[3], touch ? "_touch" : ""), Count(argv[5]), [&] {
      safetensors::TensorDict tensors = Check(safetensors::load_file(file, "cpu", options));
      if (touch) {
        double total = 0;
        for (const auto& item : tensors) total += at::sum(item.value()).item<double>();
        if (total == 0.123) std::printf("#\n");  // keep the sum
      }
    });
  } else if (command == "plain_pread" && argc == 4) {
    // One malloc per tensor, as load_file allocates, then one pread loop per
    // tensor: the same allocation pattern, none of our code.
    const safetensors::SafeOpen f = Check(safetensors::safe_open(file));
    Time("plain_pread", Count(argv[3]), [&] {
      const int fd = ::open(file.c_str(), O_RDONLY);
      std::vector<void*> buffers;
      for (const safetensors::TensorInfo& t : f.header().tensors()) {
        char* out = static_cast<char*>(std::malloc(t.num_bytes()));
        const uint64_t offset = f.header().data_offset() + t.data_begin;
        for (uint64_t done = 0; done < t.num_bytes();) {
          const ssize_t n = ::pread(fd, out + done, t.num_bytes() - done,
                                    static_cast<off_t>(offset + done));
          if (n <= 0) Die("pread failed");
          done += static_cast<uint64_t>(n);
        }
        buffers.push_back(out);
      }
      for (void* buffer : buffers) std::free(buffer);
      ::close(fd);
    });
  } else if (command == "save" && argc == 5) {
    const safetensors::TensorDict tensors = LoadOwned(file);
    Time("save_file", Count(argv[4]), [&] { Check(safetensors::save_file(tensors, argv[3])); });
  } else if (command == "plain_write" && argc == 6) {
    const safetensors::TensorDict tensors = LoadOwned(file);
    const safetensors::SafeOpen f = Check(safetensors::safe_open(file));
    std::string prefix(static_cast<size_t>(f.header().data_offset()), '\0');
    {
      const int fd = ::open(file.c_str(), O_RDONLY);
      if (::pread(fd, prefix.data(), prefix.size(), 0) != static_cast<ssize_t>(prefix.size()))
        Die("pread failed");
      ::close(fd);
    }
    const bool sync = Count(argv[4]) != 0;
    Time(sync ? "plain_write_fsync" : "plain_write", Count(argv[5]), [&] {
      const int fd = ::open(argv[3], O_WRONLY | O_CREAT | O_TRUNC, 0644);
      WriteAll(fd, prefix.data(), prefix.size());
      for (const std::string& name : f.offset_keys()) {
        const at::Tensor& t = tensors[name];
        WriteAll(fd, t.data_ptr(), t.nbytes());
      }
      if (sync) ::fsync(fd);
      ::close(fd);
    });
  } else if (command == "torch_save" && argc == 5) {
    const safetensors::TensorDict tensors = LoadOwned(file);
    const std::vector<at::Tensor> values = tensors.values();
    Time("torch_save", Count(argv[4]), [&] { torch::save(values, argv[3]); });
  } else if (command == "torch_load" && argc == 4) {
    Time("torch_load", Count(argv[3]), [&] {
      std::vector<at::Tensor> values;
      torch::load(values, file);
    });
  } else {
    Die("usage: see the comment at the top of torch_io_bench.cc");
  }
  return 0;
}

// One measurement per process for tools/bench/bench_load.py, printed as one
// JSON object. PATH is a .safetensors file or a checkpoint directory (its
// *.safetensors files are its shards).
//
//   load_bench drop PATH
//       posix_fadvise(DONTNEED) on every file, then the fraction of the
//       files' pages still resident (mincore): > 0 means a cold run was not
//   load_bench prime PATH
//       writes, then frees, memory as large as the files: run before every
//       measurement, so that each starts with the guest's free memory backed
//       by the host (this VM hands memory that stays free back to its host,
//       and a process faulting such memory pays host faults: a warm 1 GiB
//       owned load took 0.09 s after another load and 0.86 s after other
//       work)
//   load_bench device THREADS BLOCK_MIB pread|direct|mmap FAULTED PATH
//       the device limit: every byte of every file brought in by THREADS
//       threads taking BLOCK_MIB blocks from one queue, nothing else (no
//       allocation, no page faults on destination memory): pread into each
//       thread's reused buffer (huge pages, written before the clock);
//       direct, the same through O_DIRECT, bypassing the page cache (what
//       the device itself delivers at that queue depth);
//       mmap, a read of one byte of every page of a mapping of the file (the
//       kernel's fault readahead decides the reads). With FAULTED=1, memory
//       as large as the files is written (small pages) and kept before the
//       clock starts: the state a load into a built model runs in. On this
//       machine's VM that state alone made cold reads faster (O_DIRECT up to
//       2x), so each load is compared with the loops run in its own state.
//   load_bench copy THREADS BLOCK_MIB FRESH PATH
//       the page-cache copy limit: every byte read with BLOCK_MIB positioned
//       reads on THREADS threads into one buffer, on transparent huge pages
//       where the kernel gives them (fewer TLB misses: a load into such
//       memory beat a limit measured on small pages). FRESH=0: the buffer is
//       written before the clock starts (no page faults: the limit of a load
//       into a built model). FRESH=1: it is not, so the reads fault it in,
//       as every load into new (owned) tensors must
//   load_bench durable-copy OUT_DIR PATH
//       the durable copy limit: every file of PATH copied to OUT_DIR (same
//       name) by copy_file_range in 16 MiB pieces at the same offsets, each
//       piece handed to the disk (sync_file_range WRITE) as soon as it is
//       copied, then fsync: `cp` + `sync` with the disk writing while the
//       copy goes on, as our conversion does
//   load_bench load mmap|pread|pread-buffered TOUCH THREADS PATH
//       ours: load_checkpoint(PATH) (a single file is a checkpoint of one);
//       pread with the default direct_io (kAuto: O_DIRECT for what is not
//       cached), pread-buffered with kNever (every read through the page
//       cache); TOUCH=1 also sums every tensor, so every mapped byte is read
//   load_bench pickle mmap|pread TOUCH PATH
//       ours on a torch.save checkpoint: load_pickle_checkpoint(PATH) (a
//       .bin/.pt file, or a directory with pytorch_model.bin.index.json);
//       TOUCH=1 also sums every tensor
//   load_bench model same|bf16 THREADS PATH
//       ours: load_torch_model into a module of buffers shaped like PATH's
//       tensors (of their dtype, or BF16 so that every tensor converts
//       through the 64 MiB staging buffer), built and zeroed before the clock
//       starts; also the peak resident memory of the load beyond the
//       process's with the model
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <ATen/ops/sum.h>
#include <ATen/ops/zeros.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "tools/bench/page_cache.h"
#include "tools/bench/bench_util.h"
#include "tools/bench/proc_status.h"
#include "torch_io/safetensors.h"

namespace {

using ::safetensors::bench::Check;
using ::safetensors::bench::Count;
using ::safetensors::bench::Die;

double Seconds(const std::function<void()>& fn) {
  const auto start = std::chrono::steady_clock::now();
  fn();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

std::vector<std::string> FilesOf(const std::string& path) {
  if (!std::filesystem::is_directory(path)) return {path};
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(path)) {
    if (entry.path().extension() == ".safetensors" || entry.path().extension() == ".bin") {
      files.push_back(entry.path());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

// One positioned read of a benchmark's plain loops.
struct Block {
  int fd;
  uint64_t offset;
  uint64_t size;
  uint64_t destination;  // for `copy`: where in the one buffer
};

// The files cut into blocks of `block_bytes`; `*total` their size.
std::vector<Block> Blocks(const std::vector<std::string>& files, uint64_t block_bytes,
                          uint64_t* total, int flags = 0) {
  std::vector<Block> blocks;
  *total = 0;
  for (const std::string& file : files) {
    const int fd = ::open(file.c_str(), O_RDONLY | flags);
    if (fd < 0) Die("cannot open " + file);
    const uint64_t size = std::filesystem::file_size(file);
    for (uint64_t at = 0; at < size; at += block_bytes) {
      blocks.push_back(Block{fd, at, std::min(block_bytes, size - at), *total + at});
    }
    *total += size;
  }
  return blocks;
}

void ReadFully(const Block& block, char* out) {
  for (uint64_t done = 0; done < block.size;) {
    const ssize_t n = ::pread(block.fd, out + done, block.size - done,
                              static_cast<off_t>(block.offset + done));
    if (n <= 0) Die("pread failed");
    done += static_cast<uint64_t>(n);
  }
}

// O_DIRECT: lengths and buffers in whole 4 KiB pages; the file's last block
// comes back short.
void ReadDirect(const Block& block, char* out) {
  constexpr uint64_t kPage = 4096;
  const uint64_t want = (block.size + kPage - 1) / kPage * kPage;
  for (uint64_t done = 0; done < block.size;) {
    const ssize_t n = ::pread(block.fd, out + done, want - done,
                              static_cast<off_t>(block.offset + done));
    if (n <= 0) Die("O_DIRECT pread failed");
    done += static_cast<uint64_t>(n);
  }
}

// At least `bytes` of unwritten memory, 2 MiB-aligned and marked for
// transparent huge pages; its size rounded up to whole huge pages.
struct HugePageBuffer {
  std::unique_ptr<char, decltype(&std::free)> bytes;
  uint64_t size;
};

HugePageBuffer AllocateHugePages(uint64_t bytes) {
  constexpr uint64_t kHugePage = uint64_t{2} << 20;
  const uint64_t size = std::max(kHugePage, (bytes + kHugePage - 1) / kHugePage * kHugePage);
  HugePageBuffer buffer{{static_cast<char*>(::aligned_alloc(kHugePage, size)), &std::free}, size};
  if (buffer.bytes == nullptr) Die("cannot allocate huge pages");
  ::madvise(buffer.bytes.get(), size, MADV_HUGEPAGE);
  return buffer;
}

// Runs `work(thread index)` on `threads` threads and waits for all.
void OnThreads(int threads, const std::function<void(int)>& work) {
  std::vector<std::thread> pool;
  for (int i = 1; i < threads; ++i) pool.emplace_back(work, i);
  work(0);
  for (std::thread& t : pool) t.join();
}

void PrintTime(double seconds, uint64_t bytes, const std::string& extra = "") {
  std::printf("{\"seconds\":%.6f,\"bytes\":%llu%s}\n", seconds,
              static_cast<unsigned long long>(bytes), extra.c_str());
}

// A module whose buffers are shaped like `tensors` (dotted names become
// nested modules), of their dtypes or all BF16, zeroed.
std::shared_ptr<torch::nn::Module> ShapedModule(const safetensors::TensorDict& tensors,
                                                bool bf16) {
  auto root = std::make_shared<torch::nn::Module>("Shaped");
  for (const auto& item : tensors) {
    const std::vector<std::string> parts = absl::StrSplit(item.key(), '.');
    std::shared_ptr<torch::nn::Module> module = root;
    for (size_t i = 0; i + 1 < parts.size(); ++i) {
      auto children = module->named_children();
      module = children.contains(parts[i])
                   ? children[parts[i]]
                   : module->register_module(parts[i], std::make_shared<torch::nn::Module>());
    }
    module->register_buffer(
        parts.back(),
        at::zeros(item.value().sizes(), bf16 ? item.value().options().dtype(at::kBFloat16)
                                             : item.value().options()));
  }
  return root;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) Die("usage: see the comment at the top of load_bench.cc");
  const std::string command = argv[1], path = argv[argc - 1];
  if (command == "drop" && argc == 3) {
    double resident = 0;
    for (const std::string& file : FilesOf(path)) {
      resident = std::max(resident, safetensors::bench::DropFromPageCache(file));
    }
    std::printf("{\"resident_after_drop\":%.4f}\n", resident);
  } else if (command == "prime" && argc == 3) {
    uint64_t total = 0;
    for (const std::string& file : FilesOf(path)) total += std::filesystem::file_size(file);
    // On huge pages, as the loads' large tensors are.
    const HugePageBuffer memory = AllocateHugePages(total);
    std::memset(memory.bytes.get(), 1, memory.size);
    std::printf("{\"primed\":%llu}\n", static_cast<unsigned long long>(memory.size));
  } else if (command == "device" && argc == 7) {
    const int threads = std::max(1, Count(argv[2]));
    const uint64_t block_bytes = static_cast<uint64_t>(std::max(1, Count(argv[3]))) << 20;
    const std::string how = argv[4];
    if (how != "pread" && how != "direct" && how != "mmap") Die("pread, direct or mmap");
    uint64_t total;
    const std::vector<Block> blocks =
        Blocks(FilesOf(path), block_bytes, &total, how == "direct" ? O_DIRECT : 0);
    std::vector<const uint8_t*> mappings;  // by block, for mmap: the file's first byte
    if (how == "mmap") {
      for (const Block& block : blocks) {
        if (block.offset == 0) {
          const off_t size = ::lseek(block.fd, 0, SEEK_END);
          void* m = size > 0 ? ::mmap(nullptr, static_cast<size_t>(size), PROT_READ,
                                      MAP_PRIVATE, block.fd, 0)
                             : nullptr;
          if (m == MAP_FAILED) Die("cannot map a file");
          mappings.push_back(static_cast<const uint8_t*>(m));
        } else {
          mappings.push_back(mappings.back());
        }
      }
    }
    std::vector<char> faulted;
    if (Count(argv[5]) != 0) faulted.assign(total, 1);  // kept until the process ends
    // Each thread's buffer on huge pages and written before the clock
    // starts: a direct read then pins a few huge pages instead of 4 KiB
    // pages faulted in as it goes. With 4 KiB buffers allocated on the clock
    // this loop read (b) cold in 1.18-1.40 s, slower than verify through
    // rings of huge pages (0.97-1.05 s), so it was no limit.
    std::vector<HugePageBuffer> buffers;
    for (int t = 0; how != "mmap" && t < threads; ++t) {
      buffers.push_back(AllocateHugePages(block_bytes));
      std::memset(buffers.back().bytes.get(), 0, buffers.back().size);
    }
    std::atomic<size_t> next{0};
    std::atomic<uint64_t> touched{0};
    const double seconds = Seconds([&] {
      OnThreads(threads, [&](int thread) {
        char* buffer = how == "mmap" ? nullptr : buffers[static_cast<size_t>(thread)].bytes.get();
        uint64_t sum = 0;
        for (size_t i = next++; i < blocks.size(); i = next++) {
          if (how == "mmap") {
            const uint8_t* bytes = mappings[i] + blocks[i].offset;
            for (uint64_t at = 0; at < blocks[i].size; at += 4096) sum += bytes[at];
          } else if (how == "direct") {
            ReadDirect(blocks[i], buffer);
          } else {
            ReadFully(blocks[i], buffer);
          }
        }
        touched += sum;
      });
    });
    PrintTime(seconds, total, touched == 1 ? ",\"touched\":1" : "");  // keeps the reads
  } else if (command == "copy" && argc == 6) {
    const int threads = std::max(1, Count(argv[2]));
    const uint64_t block_bytes = static_cast<uint64_t>(std::max(1, Count(argv[3]))) << 20;
    uint64_t total;
    const std::vector<Block> blocks = Blocks(FilesOf(path), block_bytes, &total);
    const HugePageBuffer buffer = AllocateHugePages(total);
    if (Count(argv[4]) == 0) std::memset(buffer.bytes.get(), 1, buffer.size);  // faulted in now
    std::atomic<size_t> next{0};
    const double seconds = Seconds([&] {
      OnThreads(threads, [&](int) {
        for (size_t i = next++; i < blocks.size(); i = next++) {
          ReadFully(blocks[i], buffer.bytes.get() + blocks[i].destination);
        }
      });
    });
    PrintTime(seconds, total);
  } else if (command == "durable-copy" && argc == 4) {
    const std::string out_dir = argv[2];
    uint64_t total = 0;
    const double seconds = Seconds([&] {
      for (const std::string& file : FilesOf(path)) {
        const int in = ::open(file.c_str(), O_RDONLY);
        const std::string target = out_dir + "/" + std::filesystem::path(file).filename().string();
        const int out = ::open(target.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (in < 0 || out < 0) Die("cannot open " + file + " or " + target);
        const uint64_t size = std::filesystem::file_size(file);
        constexpr uint64_t kPiece = uint64_t{16} << 20;
        for (uint64_t at = 0; at < size;) {
          loff_t from = static_cast<loff_t>(at), to = static_cast<loff_t>(at);
          const ssize_t n = ::copy_file_range(in, &from, out, &to, std::min(kPiece, size - at), 0);
          if (n <= 0) Die("copy_file_range failed on " + file);
          ::sync_file_range(out, static_cast<off64_t>(at), n, SYNC_FILE_RANGE_WRITE);
          at += static_cast<uint64_t>(n);
        }
        if (::fsync(out) != 0) Die("fsync failed on " + target);
        ::close(out);
        ::close(in);
        total += size;
      }
    });
    PrintTime(seconds, total);
  } else if (command == "load" && argc == 6) {
    safetensors::LoadOptions options;
    const std::string backend = argv[2];
    if (backend != "mmap" && backend != "pread" && backend != "pread-buffered") {
      Die("mmap, pread or pread-buffered");
    }
    options.backend =
        backend == "mmap" ? safetensors::Backend::kMmap : safetensors::Backend::kPread;
    if (backend == "pread-buffered") options.direct_io = safetensors::DirectIo::kNever;
    const bool touch = Count(argv[3]) != 0;
    options.threads = Count(argv[4]);
    uint64_t bytes = 0;
    double sum = 0;
    // Freed after the clock stops, as the Python contenders' are: unmapping
    // 1 GiB alone took a third of a warm mmap+read.
    safetensors::TensorDict tensors;
    const double seconds = Seconds([&] {
      tensors = Check(safetensors::load_checkpoint(path, "cpu", options));
      for (const auto& item : tensors) {
        bytes += item.value().nbytes();
        if (touch) sum += at::sum(item.value()).item<double>();
      }
    });
    PrintTime(seconds, bytes, sum == 0.5 ? ",\"sum\":0.5" : "");  // keeps the sums
  } else if (command == "pickle" && argc == 5) {
    safetensors::LoadOptions options;
    const std::string backend = argv[2];
    if (backend != "mmap" && backend != "pread") Die("mmap or pread");
    options.backend = backend == "mmap" ? safetensors::Backend::kMmap : safetensors::Backend::kPread;
    const bool touch = Count(argv[3]) != 0;
    uint64_t bytes = 0;
    double sum = 0;
    safetensors::TensorDict tensors;  // freed after the clock stops, as in load
    const double seconds = Seconds([&] {
      tensors = Check(safetensors::load_pickle_checkpoint(path, "cpu", options));
      for (const auto& item : tensors) {
        bytes += item.value().nbytes();
        if (touch) sum += at::sum(item.value()).item<double>();
      }
    });
    PrintTime(seconds, bytes, sum == 0.5 ? ",\"sum\":0.5" : "");
  } else if (command == "model" && argc == 5) {
    safetensors::LoadOptions options;
    const bool bf16 = std::string(argv[2]) == "bf16";
    options.threads = Count(argv[3]);
    std::shared_ptr<torch::nn::Module> model;
    {
      // Views of a mapping: shapes and dtypes without reading the data.
      const safetensors::TensorDict shapes = Check(safetensors::load_checkpoint(path));
      model = ShapedModule(shapes, bf16);
    }
    uint64_t bytes = 0;
    for (const auto& b : model->buffers()) bytes += b.nbytes();
    safetensors::bench::ResetPeakResident();
    const long baseline = safetensors::bench::StatusField("VmRSS:");
    const double seconds = Seconds([&] {
      Check(safetensors::load_torch_model(*model, path, /*strict=*/true, "cpu", options));
    });
    const long peak = safetensors::bench::StatusField("VmHWM:") - baseline;
    PrintTime(seconds, bytes, absl::StrCat(",\"peak_extra_bytes\":", peak));
  } else {
    Die("usage: see the comment at the top of load_bench.cc");
  }
  return 0;
}

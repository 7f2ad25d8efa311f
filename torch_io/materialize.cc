#include "torch_io/materialize.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include <ATen/ops/empty.h>
#include <ATen/ops/from_blob.h>

#include "io/direct_read.h"
#include "io/parallel_read.h"
#include "parser/error.h"
#include "parser/status_macros.h"
#include "torch_io/dtype_map.h"
#include "torch_io/torch_errors.h"

namespace safetensors {
namespace internal {

absl::Span<uint8_t> BytesOf(const at::Tensor& tensor) {
  return absl::Span<uint8_t>(static_cast<uint8_t*>(tensor.data_ptr()), tensor.nbytes());
}

namespace {

constexpr size_t kHugePage = size_t{2} << 20;

// Memory for a large tensor that a load is about to fill: a private anonymous
// mapping whose start is 2 MiB-aligned and marked MADV_HUGEPAGE, so that
// where the kernel allows transparent huge pages (madvise mode is common)
// each 2 MiB of it costs one page fault instead of 512. Its length is
// `bytes` rounded up to whole pages and direct-read blocks, so the tail
// that fills no huge page takes small pages and nothing is wasted. Null when
// mmap fails.
void* MapHugePageAligned(size_t bytes, size_t* mapped) {
  const size_t page =
      std::max(static_cast<size_t>(::sysconf(_SC_PAGESIZE)), size_t{kDirectReadAlignment});
  *mapped = (bytes + page - 1) / page * page;
  const size_t reserve = *mapped + kHugePage;
  void* raw = ::mmap(nullptr, reserve, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) return nullptr;
  const uintptr_t start = reinterpret_cast<uintptr_t>(raw);
  const uintptr_t aligned = (start + kHugePage - 1) / kHugePage * kHugePage;
  if (aligned > start) ::munmap(raw, aligned - start);
  const uintptr_t end = aligned + *mapped;
  if (start + reserve > end) ::munmap(reinterpret_cast<void*>(end), start + reserve - end);
  void* memory = reinterpret_cast<void*>(aligned);
  ::madvise(memory, *mapped, MADV_HUGEPAGE);  // a hint: refused, small pages serve
  return memory;
}

// A tensor of `layout` whose data start `lead` bytes into a huge-page-aligned
// mapping of at least lead + bytes; the mapping is unmapped with the last
// tensor using it. Not OK (and nothing mapped) when mmap fails.
absl::StatusOr<TensorToFill> MapTensor(const TorchLayout& layout, size_t bytes, size_t lead) {
  size_t mapped = 0;
  void* memory = MapHugePageAligned(lead + bytes, &mapped);
  if (memory == nullptr) return MakeError(ErrorCode::kOutOfMemory, "cannot map memory");
  const absl::Span<uint8_t> window(static_cast<uint8_t*>(memory), mapped);
  SAFETENSORS_ASSIGN_OR_RETURN(
      at::Tensor tensor, CallTorch("allocating a tensor", [&] {
        try {
          return at::from_blob(
              window.data() + lead, layout.sizes,
              [memory, mapped](void*) { ::munmap(memory, mapped); },
              at::TensorOptions().dtype(layout.type));
        } catch (...) {
          ::munmap(memory, mapped);
          throw;
        }
      }));
  return TensorToFill{std::move(tensor), window};
}

bool WorthAMapping(uint64_t bytes) {
  return bytes >= kHugePage && bytes <= SIZE_MAX - 2 * kHugePage - kDirectReadAlignment;
}

// AllocateTensor's work, for a layout already made from `t`.
absl::StatusOr<at::Tensor> AllocateWithLayout(const TensorInfo& t, const TorchLayout& layout) {
  if (WorthAMapping(t.num_bytes())) {
    absl::StatusOr<TensorToFill> mapped = MapTensor(layout, static_cast<size_t>(t.num_bytes()), 0);
    if (mapped.ok()) return std::move(mapped->tensor);
  }
  return CallTorch("allocating a tensor", [&] {
    return at::empty(layout.sizes, at::TensorOptions().dtype(layout.type));
  });
}

}  // namespace

absl::StatusOr<at::Tensor> AllocateTensor(const TensorInfo& t) {
  SAFETENSORS_ASSIGN_OR_RETURN(TorchLayout layout, ToTorchLayout(t));
  return AllocateWithLayout(t, layout);
}

absl::StatusOr<TensorToFill> AllocateTensorToFill(const TensorInfo& t, uint64_t file_offset,
                                                  bool direct) {
  SAFETENSORS_ASSIGN_OR_RETURN(TorchLayout layout, ToTorchLayout(t));
  const size_t lead = static_cast<size_t>(file_offset % kDirectReadAlignment);
  if (direct && WorthAMapping(t.num_bytes()) && lead % c10::elementSize(layout.type) == 0) {
    absl::StatusOr<TensorToFill> mapped =
        MapTensor(layout, static_cast<size_t>(t.num_bytes()), lead);
    if (mapped.ok()) return mapped;
  }
  SAFETENSORS_ASSIGN_OR_RETURN(at::Tensor tensor, AllocateWithLayout(t, layout));
  const absl::Span<uint8_t> bytes = BytesOf(tensor);
  return TensorToFill{std::move(tensor), bytes};
}

absl::StatusOr<at::Tensor> CopyToNewTensor(const TensorInfo& t,
                                           absl::Span<const uint8_t> bytes) {
  SAFETENSORS_ASSIGN_OR_RETURN(at::Tensor tensor, AllocateTensor(t));
  if (!bytes.empty()) std::memcpy(tensor.data_ptr(), bytes.data(), bytes.size());
  return tensor;
}

absl::StatusOr<at::Tensor> MaterializeOnCpu(const OpenFile& f, const TensorInfo& t) {
  if (f.mapping != nullptr) {
    // In range: ParseHeader checked that every tensor lies in the file.
    const absl::Span<uint8_t> bytes = f.mapping->bytes().subspan(f.FileOffset(t), t.num_bytes());
    SAFETENSORS_ASSIGN_OR_RETURN(TorchLayout layout, ToTorchLayout(t));
    // Misaligned for its dtype (odd header lengths do this): copy rather than
    // hand out a pointer LibTorch would read misaligned.
    if (bytes.empty() ||
        reinterpret_cast<uintptr_t>(bytes.data()) % c10::elementSize(layout.type) != 0) {
      return CopyToNewTensor(t, bytes);
    }
    std::shared_ptr<Mapping> keep = f.mapping;
    return CallTorch("wrapping mapped memory", [&] {
      return at::from_blob(bytes.data(), layout.sizes, [keep](void*) {},
                           at::TensorOptions().dtype(layout.type));
    });
  }
  SAFETENSORS_ASSIGN_OR_RETURN(at::Tensor tensor, AllocateTensor(t));
  SAFETENSORS_RETURN_IF_ERROR(f.file->ReadAt(f.FileOffset(t), BytesOf(tensor)));
  return tensor;
}

absl::StatusOr<TensorDict> MaterializeAll(absl::Span<const FileToLoad> files) {
  uint64_t bytes_total = 0, tensors_total = 0;
  for (const FileToLoad& f : files) {
    for (size_t i = 0; i < f.file->header->tensors().size(); ++i) {
      if (!f.file->selected[i]) continue;
      bytes_total += f.file->header->tensors()[i].num_bytes();
      ++tensors_total;
    }
  }
  ReadProgressTracker progress(files.empty() ? nullptr : files[0].file->options.progress,
                               bytes_total, tensors_total);
  std::vector<ReadPlan> plans(files.size());
  std::vector<std::unique_ptr<DirectReads>> direct(files.size());
  std::vector<FileReadPlan> reads;
  TensorDict tensors;
  tensors.reserve(static_cast<size_t>(tensors_total));
  for (size_t n = 0; n < files.size(); ++n) {
    const OpenFile& f = *files[n].file;
    if (f.mapping == nullptr) {
      direct[n] = DirectReads::Open(*f.file, f.options.direct_io);
    }
    for (size_t i = 0; i < f.header->tensors().size(); ++i) {
      if (!f.selected[i]) continue;
      const TensorInfo& t = f.header->tensors()[i];
      absl::Status status;
      if (f.mapping == nullptr) {
        absl::StatusOr<TensorToFill> fill =
            AllocateTensorToFill(t, f.FileOffset(t), direct[n] != nullptr);
        if (fill.ok()) {
          plans[n].AddInWindow(f.FileOffset(t), BytesOf(fill->tensor), fill->window, t.name);
          tensors.insert(std::string(t.name), std::move(fill->tensor));
        }
        status = fill.status();
      } else {
        absl::StatusOr<at::Tensor> view = MaterializeOnCpu(f, t);
        if (view.ok()) {
          progress.Add(t.num_bytes(), 1);  // a view: there as soon as it exists
          tensors.insert(std::string(t.name), *std::move(view));
        }
        status = view.status();
      }
      if (!status.ok()) return AddContext(status, files[n].context);
    }
    if (f.mapping == nullptr) {
      reads.push_back(FileReadPlan{f.file.get(), &plans[n], files[n].context, direct[n].get()});
    }
  }
  if (!reads.empty()) {
    SAFETENSORS_RETURN_IF_ERROR(ReadInParallel(
        reads, ThreadsForRead(files[0].file->options.threads, bytes_total), &progress));
  }
  for (auto& item : tensors) {
    // One device for all: a checkpoint's shards are opened for one.
    SAFETENSORS_ASSIGN_OR_RETURN(item.value(), ToDevice(item.value(), files[0].file->device));
  }
  return tensors;
}

absl::StatusOr<at::Tensor> ToDevice(at::Tensor cpu, const c10::Device& device) {
  if (device.is_cpu()) return cpu;
  return CallTorch("moving a tensor to " + device.str(), [&] { return cpu.to(device); });
}

}  // namespace internal
}  // namespace safetensors

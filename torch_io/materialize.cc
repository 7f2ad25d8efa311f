#include "torch_io/materialize.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include <ATen/ops/empty.h>
#include <ATen/ops/from_blob.h>

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
// each 2 MiB of it costs one page fault instead of 512. Its length is the
// tensor's rounded to a page, so the tail that fills no huge page takes
// small pages and nothing is wasted. Null when mmap fails.
void* MapHugePageAligned(size_t bytes, size_t* mapped) {
  const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
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

}  // namespace

absl::StatusOr<at::Tensor> AllocateTensor(const TensorInfo& t) {
  SAFETENSORS_ASSIGN_OR_RETURN(TorchLayout layout, ToTorchLayout(t));
  if (t.num_bytes() >= kHugePage && t.num_bytes() <= SIZE_MAX - 2 * kHugePage) {
    size_t mapped = 0;
    if (void* memory = MapHugePageAligned(static_cast<size_t>(t.num_bytes()), &mapped)) {
      return CallTorch("allocating a tensor", [&] {
        try {
          return at::from_blob(
              memory, layout.sizes, [mapped](void* p) { ::munmap(p, mapped); },
              at::TensorOptions().dtype(layout.type));
        } catch (...) {
          ::munmap(memory, mapped);
          throw;
        }
      });
    }
  }
  return CallTorch("allocating a tensor", [&] {
    return at::empty(layout.sizes, at::TensorOptions().dtype(layout.type));
  });
}

absl::StatusOr<at::Tensor> CopyToNewTensor(const TensorInfo& t,
                                           absl::Span<const uint8_t> bytes) {
  SAFETENSORS_ASSIGN_OR_RETURN(at::Tensor tensor, AllocateTensor(t));
  if (!bytes.empty()) std::memcpy(tensor.data_ptr(), bytes.data(), bytes.size());
  return tensor;
}

absl::StatusOr<at::Tensor> MaterializeOnCpu(const OpenFile& f, const TensorInfo& t, bool read) {
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
  if (read) SAFETENSORS_RETURN_IF_ERROR(f.file->ReadAt(f.FileOffset(t), BytesOf(tensor)));
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
  std::vector<FileReadPlan> reads;
  TensorDict tensors;
  tensors.reserve(static_cast<size_t>(tensors_total));
  for (size_t n = 0; n < files.size(); ++n) {
    const OpenFile& f = *files[n].file;
    const bool bulk_read = f.mapping == nullptr;
    for (size_t i = 0; i < f.header->tensors().size(); ++i) {
      if (!f.selected[i]) continue;
      const TensorInfo& t = f.header->tensors()[i];
      absl::StatusOr<at::Tensor> tensor = MaterializeOnCpu(f, t, /*read=*/!bulk_read);
      if (!tensor.ok()) return AddContext(tensor.status(), files[n].context);
      if (bulk_read) {
        plans[n].Add(f.FileOffset(t), BytesOf(*tensor), t.name);
      } else {
        progress.Add(t.num_bytes(), 1);  // a view: there as soon as it exists
      }
      tensors.insert(std::string(t.name), *std::move(tensor));
    }
    if (bulk_read) reads.push_back(FileReadPlan{f.file.get(), &plans[n], files[n].context});
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

#include "torch_io/safe_open.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <mutex>
#include <thread>

#include <ATen/ops/empty.h>
#include <ATen/ops/from_blob.h>
#include <c10/util/Exception.h>

#include "absl/strings/str_cat.h"
#include "parser/error.h"
#include "parser/status_macros.h"
#include "torch_io/dtype_map.h"
#include "torch_io/file.h"
#include "torch_io/tensor_filter.h"
#include "torch_io/torch_errors.h"

namespace safetensors {
namespace internal {

struct OpenFile {
  std::shared_ptr<File> file;
  std::shared_ptr<Mapping> mapping;  // the mmap backend's; null for pread
  Header header;
  c10::Device device;
  LoadOptions options;
  std::vector<bool> selected;  // by position in header.tensors(): passes the filter

  OpenFile(Header h, c10::Device d) : header(std::move(h)), device(d) {}

  uint64_t FileOffset(const TensorInfo& t) const {
    return header.data_offset() + t.data_begin;
  }
};

}  // namespace internal

namespace {

using internal::OpenFile;

constexpr uint64_t kParallelReadThreshold = uint64_t{64} << 20;
constexpr uint64_t kReadChunk = uint64_t{16} << 20;

absl::Span<uint8_t> BytesOf(const at::Tensor& tensor) {
  return absl::Span<uint8_t>(static_cast<uint8_t*>(tensor.data_ptr()), tensor.nbytes());
}

absl::StatusOr<at::Tensor> ToDevice(at::Tensor cpu, const c10::Device& device) {
  if (device.is_cpu()) return cpu;
  return CallTorch("moving a tensor to " + device.str(),
                   [&] { return cpu.to(device); });
}

// The whole tensor `t` as a CPU tensor: a view of the mapping when it is
// aligned for its dtype, else a copy; or, for pread, filled by reads
// (skipped when `read` is false, for callers that read in bulk).
absl::StatusOr<at::Tensor> MaterializeOnCpu(const OpenFile& f, const TensorInfo& t,
                                            bool read = true) {
  SAFETENSORS_ASSIGN_OR_RETURN(TorchLayout layout, ToTorchLayout(t));
  const at::TensorOptions options = at::TensorOptions().dtype(layout.type);
  if (f.mapping != nullptr && t.num_bytes() > 0) {
    // In range: ParseHeader checked that every tensor lies in the file.
    uint8_t* data = f.mapping->bytes().subspan(f.FileOffset(t), t.num_bytes()).data();
    if (reinterpret_cast<uintptr_t>(data) % c10::elementSize(layout.type) == 0) {
      std::shared_ptr<internal::Mapping> keep = f.mapping;
      return CallTorch("wrapping mapped memory", [&] {
        return at::from_blob(data, layout.sizes, [keep](void*) {}, options);
      });
    }
  }
  SAFETENSORS_ASSIGN_OR_RETURN(
      at::Tensor tensor,
      CallTorch("allocating a tensor", [&] { return at::empty(layout.sizes, options); }));
  if (f.mapping != nullptr) {
    // Misaligned for its dtype (odd header lengths do this): copy rather
    // than hand out a pointer LibTorch would read misaligned.
    if (t.num_bytes() > 0) {
      std::memcpy(tensor.data_ptr(),
                  f.mapping->bytes().subspan(f.FileOffset(t), t.num_bytes()).data(),
                  t.num_bytes());
    }
  } else if (read) {
    SAFETENSORS_RETURN_IF_ERROR(f.file->ReadAt(f.FileOffset(t), BytesOf(tensor)));
  }
  return tensor;
}

struct ReadJob {
  uint64_t offset;
  absl::Span<uint8_t> out;
};

// Runs `jobs` on up to `threads` threads; returns the first error.
absl::Status ReadInParallel(const internal::File& file, const std::vector<ReadJob>& jobs,
                            int threads) {
  std::atomic<size_t> next{0};
  std::mutex mutex;
  absl::Status first_error;
  auto worker = [&] {
    for (size_t i = next++; i < jobs.size(); i = next++) {
      absl::Status status = file.ReadAt(jobs[i].offset, jobs[i].out);
      if (!status.ok()) {
        std::lock_guard<std::mutex> lock(mutex);
        if (first_error.ok()) first_error = status;
        next = jobs.size();
      }
    }
  };
  std::vector<std::thread> pool;
  for (int i = 1; i < threads; ++i) pool.emplace_back(worker);
  worker();
  for (std::thread& thread : pool) thread.join();
  return first_error;
}

int ThreadsFor(const LoadOptions& options, uint64_t bytes) {
  if (options.threads > 0) return options.threads;
  if (bytes < kParallelReadThreshold) return 1;
  return static_cast<int>(std::clamp(std::thread::hardware_concurrency(), 1u, 4u));
}

}  // namespace

absl::StatusOr<SafeOpen> SafeOpen::Open(const std::string& path, const DeviceSpec& device,
                                        const LoadOptions& options) {
  SAFETENSORS_ASSIGN_OR_RETURN(const c10::Device resolved, device.Resolve());
  SAFETENSORS_ASSIGN_OR_RETURN(const internal::TensorFilter filter,
                               internal::TensorFilter::Compile(options.tensor_filter));
  SAFETENSORS_ASSIGN_OR_RETURN(std::shared_ptr<internal::File> file,
                               internal::File::Open(path));
  uint8_t first[8];
  const size_t first_size = static_cast<size_t>(std::min<uint64_t>(8, file->size()));
  SAFETENSORS_RETURN_IF_ERROR(file->ReadAt(0, absl::MakeSpan(first, first_size)));
  SAFETENSORS_ASSIGN_OR_RETURN(
      const uint64_t header_size,
      ReadHeaderSize(absl::MakeConstSpan(first, first_size), file->size(), options.parse));
  std::vector<uint8_t> prefix(static_cast<size_t>(kLengthPrefixSize + header_size));
  SAFETENSORS_RETURN_IF_ERROR(file->ReadAt(0, absl::MakeSpan(prefix)));
  SAFETENSORS_ASSIGN_OR_RETURN(Header header,
                               ParseHeader(prefix, file->size(), options.parse));
  prefix = std::vector<uint8_t>();

  auto open = std::make_shared<OpenFile>(std::move(header), resolved);
  open->options = options;
  open->selected.reserve(open->header.tensors().size());
  for (const TensorInfo& t : open->header.tensors()) {
    open->selected.push_back(filter.Selects(t.name));
  }
  if (options.backend == Backend::kMmap) {
    SAFETENSORS_ASSIGN_OR_RETURN(open->mapping, internal::Mapping::Map(*file));
  }
  open->file = std::move(file);
  return SafeOpen(std::move(open));
}

std::vector<std::string> SafeOpen::offset_keys() const {
  std::vector<std::string> names;
  for (size_t i = 0; i < file_->selected.size(); ++i) {
    if (file_->selected[i]) names.emplace_back(file_->header.tensors()[i].name);
  }
  return names;
}

std::vector<std::string> SafeOpen::keys() const {
  std::vector<std::string> names = offset_keys();
  std::sort(names.begin(), names.end());
  return names;
}

const std::optional<MetadataEntries>& SafeOpen::metadata() const {
  return file_->header.metadata();
}

const Header& SafeOpen::header() const { return file_->header; }

absl::StatusOr<const TensorInfo*> SafeOpen::Lookup(absl::string_view name) const {
  const TensorInfo* info = file_->header.Find(name);
  if (info == nullptr ||
      !file_->selected[static_cast<size_t>(info - file_->header.tensors().data())]) {
    return MakeError(ErrorCode::kTensorNotFound,
                     absl::StrCat("no tensor named ", QuoteForMessage(name), " in ",
                                  QuoteForMessage(file_->file->path())));
  }
  return info;
}

absl::StatusOr<at::Tensor> SafeOpen::get_tensor(absl::string_view name) const {
  SAFETENSORS_ASSIGN_OR_RETURN(const TensorInfo* info, Lookup(name));
  SAFETENSORS_ASSIGN_OR_RETURN(at::Tensor cpu, MaterializeOnCpu(*file_, *info));
  return ToDevice(std::move(cpu), file_->device);
}

absl::StatusOr<TensorDict> SafeOpen::get_tensors() const {
  const OpenFile& f = *file_;
  const bool bulk_read = f.mapping == nullptr;
  std::vector<ReadJob> jobs;
  uint64_t total = 0;
  TensorDict tensors;
  tensors.reserve(f.header.tensors().size());
  for (size_t i = 0; i < f.header.tensors().size(); ++i) {
    if (!f.selected[i]) continue;
    const TensorInfo& t = f.header.tensors()[i];
    SAFETENSORS_ASSIGN_OR_RETURN(at::Tensor tensor,
                                 MaterializeOnCpu(f, t, /*read=*/!bulk_read));
    if (bulk_read) {
      // Chunks, so that one large tensor spreads over several threads too.
      absl::Span<uint8_t> out = BytesOf(tensor);
      for (uint64_t done = 0; done < out.size(); done += kReadChunk) {
        const uint64_t length = std::min<uint64_t>(kReadChunk, out.size() - done);
        jobs.push_back({f.FileOffset(t) + done, out.subspan(done, length)});
      }
      total += out.size();
    }
    tensors.insert(std::string(t.name), std::move(tensor));
  }
  if (bulk_read) {
    SAFETENSORS_RETURN_IF_ERROR(ReadInParallel(*f.file, jobs, ThreadsFor(f.options, total)));
  }
  if (!f.device.is_cpu()) {
    for (auto& item : tensors) {
      SAFETENSORS_ASSIGN_OR_RETURN(item.value(), ToDevice(item.value(), f.device));
    }
  }
  return tensors;
}

absl::StatusOr<TensorSlice> SafeOpen::get_slice(absl::string_view name) const {
  SAFETENSORS_ASSIGN_OR_RETURN(const TensorInfo* info, Lookup(name));
  return TensorSlice(file_, info);
}

std::vector<uint64_t> TensorSlice::get_shape() const {
  return std::vector<uint64_t>(info_->shape.begin(), info_->shape.end());
}

std::string TensorSlice::get_dtype() const { return std::string(DtypeName(info_->dtype)); }

namespace {

// One dimension's selection, normalized: `count` positions from `start`,
// `step` apart.
struct DimSelection {
  uint64_t start = 0;
  uint64_t count = 0;
  uint64_t step = 1;
  bool keep_dim = true;
};

absl::StatusOr<DimSelection> Normalize(const SliceIndex& index, uint64_t size,
                                       size_t dim) {
  // Sizes fit in int64 here: ToTorchSizes checked them.
  const int64_t n = static_cast<int64_t>(size);
  DimSelection out;
  if (index.kind() == SliceIndex::Kind::kAt) {
    int64_t i = *index.start();
    if (i < 0) i += n;
    if (i < 0 || i >= n) {
      return MakeError(ErrorCode::kBadArgument,
                       absl::StrCat("index ", *index.start(), " is out of range for dimension ",
                                    dim, " of size ", size));
    }
    out.start = static_cast<uint64_t>(i);
    out.count = 1;
    out.keep_dim = false;
    return out;
  }
  if (index.step() <= 0) {
    return MakeError(ErrorCode::kBadArgument,
                     absl::StrCat("slice step ", index.step(), " for dimension ", dim,
                                  ": step must be greater than zero"));
  }
  auto clamp = [n](std::optional<int64_t> v, int64_t fallback) {
    if (!v.has_value()) return fallback;
    int64_t x = *v;
    if (x < 0) x = std::max<int64_t>(x + n, 0);
    return std::min(x, n);
  };
  const int64_t start = clamp(index.start(), 0);
  const int64_t stop = clamp(index.stop(), n);
  out.start = static_cast<uint64_t>(start);
  out.step = static_cast<uint64_t>(index.step());
  out.count = stop > start ? (static_cast<uint64_t>(stop - start) + out.step - 1) / out.step : 0;
  return out;
}

}  // namespace

absl::StatusOr<at::Tensor> TensorSlice::get(absl::Span<const SliceIndex> indices) const {
  const TensorInfo& t = *info_;
  const OpenFile& f = *file_;
  SAFETENSORS_ASSIGN_OR_RETURN(TorchLayout layout, ToTorchLayout(t));
  const size_t rank = t.shape.size();

  // Expand the ellipsis and pad with whole dimensions.
  std::vector<SliceIndex> full;
  const size_t ellipses = static_cast<size_t>(std::count_if(
      indices.begin(), indices.end(),
      [](const SliceIndex& s) { return s.kind() == SliceIndex::Kind::kEllipsis; }));
  if (ellipses > 1) {
    return MakeError(ErrorCode::kBadArgument, "a slice can have only one ellipsis");
  }
  if (indices.size() - ellipses > rank) {
    return MakeError(ErrorCode::kBadArgument,
                     absl::StrCat("tensor ", QuoteForMessage(t.name), " has ", rank,
                                  " dimensions; ", indices.size() - ellipses,
                                  " indices given"));
  }
  for (const SliceIndex& index : indices) {
    if (index.kind() == SliceIndex::Kind::kEllipsis) {
      full.insert(full.end(), rank - (indices.size() - 1), SliceIndex::All());
    } else {
      full.push_back(index);
    }
  }
  while (full.size() < rank) full.push_back(SliceIndex::All());

  // Work in whole bytes: an element is bits/8 bytes; F4's unit is the byte
  // holding two values, so its last dimension is halved.
  std::vector<uint64_t> dims(t.shape.begin(), t.shape.end());
  uint64_t element_bytes = DtypeBits(t.dtype) / 8;
  std::vector<DimSelection> sel(rank);
  for (size_t d = 0; d < rank; ++d) {
    SAFETENSORS_ASSIGN_OR_RETURN(sel[d], Normalize(full[d], dims[d], d));
  }
  if (t.dtype == Dtype::kF4) {
    DimSelection& last = sel.back();  // rank >= 1: ToTorchLayout checked it
    if (last.step != 1 || last.start % 2 != 0 || last.count % 2 != 0 || !last.keep_dim) {
      return MakeError(ErrorCode::kBadArgument,
                       absl::StrCat("tensor ", QuoteForMessage(t.name),
                                    ": an F4 slice must select whole bytes of its last "
                                    "dimension (even start and length, step 1)"));
    }
    last.start /= 2;
    last.count /= 2;
    dims.back() /= 2;
    element_bytes = 1;
  }

  std::vector<int64_t> out_sizes;
  uint64_t out_elements = 1;
  for (const DimSelection& s : sel) {
    if (s.keep_dim) out_sizes.push_back(static_cast<int64_t>(s.count));
    out_elements *= s.count;
  }
  SAFETENSORS_ASSIGN_OR_RETURN(
      at::Tensor out, CallTorch("allocating a slice", [&] {
        return at::empty(out_sizes, at::TensorOptions().dtype(layout.type));
      }));
  if (out_elements == 0) return ToDevice(std::move(out), f.device);

  // block[d]: bytes of one index of dimension d - 1, i.e. of dimensions
  // [d, rank) whole; the step along dimension d is block[d + 1]. Then the
  // longest contiguous run: the innermost dimensions taken whole, plus the
  // next one if its step is 1.
  std::vector<uint64_t> block(rank + 1, element_bytes);
  for (size_t d = rank; d-- > 0;) block[d] = block[d + 1] * dims[d];
  size_t inner = rank;  // dimensions [inner, rank) are copied whole
  while (inner > 0 && sel[inner - 1].start == 0 && sel[inner - 1].step == 1 &&
         sel[inner - 1].count == dims[inner - 1]) {
    --inner;
  }
  uint64_t run = block[inner];
  size_t outer = inner;  // dimensions [0, outer) are iterated
  if (inner > 0 && sel[inner - 1].step == 1) {
    --outer;
    run = sel[outer].count * block[outer + 1];
  }

  absl::Span<uint8_t> dest = BytesOf(out);
  std::vector<uint64_t> position(outer, 0);
  const uint64_t base = f.FileOffset(t);
  for (uint64_t written = 0; written < dest.size(); written += run) {
    uint64_t offset = base;
    for (size_t d = 0; d < outer; ++d) {
      offset += (sel[d].start + position[d] * sel[d].step) * block[d + 1];
    }
    if (outer < rank) offset += sel[outer].start * block[outer + 1];
    absl::Span<uint8_t> piece = dest.subspan(written, run);
    if (f.mapping != nullptr) {
      std::memcpy(piece.data(), f.mapping->bytes().subspan(offset, run).data(), run);
    } else {
      SAFETENSORS_RETURN_IF_ERROR(f.file->ReadAt(offset, piece));
    }
    for (size_t d = outer; d-- > 0;) {  // odometer over the iterated dimensions
      if (++position[d] < sel[d].count) break;
      position[d] = 0;
    }
  }
  return ToDevice(std::move(out), f.device);
}

}  // namespace safetensors

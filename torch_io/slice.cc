#include "torch_io/slice.h"

#include <algorithm>
#include <cstring>

#include <ATen/ops/empty.h>

#include "absl/strings/str_cat.h"
#include "parser/error.h"
#include "parser/status_macros.h"
#include "torch_io/dtype_map.h"
#include "torch_io/materialize.h"
#include "torch_io/open_file.h"
#include "torch_io/torch_errors.h"

namespace safetensors {

using internal::BytesOf;
using internal::OpenFile;
using internal::ToDevice;

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

  // Work in LibTorch elements, which are whole bytes: for a packed dtype (F4)
  // one element holds `packed` of the file's values along the last dimension,
  // so that dimension is divided by `packed`.
  std::vector<uint64_t> dims(t.shape.begin(), t.shape.end());
  const uint64_t packed = FileElementsPerTorchElement(t.dtype);
  const uint64_t element_bytes = DtypeBits(t.dtype) * packed / 8;
  std::vector<DimSelection> sel(rank);
  for (size_t d = 0; d < rank; ++d) {
    SAFETENSORS_ASSIGN_OR_RETURN(sel[d], Normalize(full[d], dims[d], d));
  }
  if (packed > 1) {
    DimSelection& last = sel.back();  // rank >= 1: ToTorchLayout checked it
    if (last.step != 1 || last.start % packed != 0 || last.count % packed != 0 ||
        !last.keep_dim) {
      return MakeError(ErrorCode::kBadArgument,
                       absl::StrCat("tensor ", QuoteForMessage(t.name), ": an ",
                                    DtypeName(t.dtype),
                                    " slice must select whole bytes of its last "
                                    "dimension (even start and length, step 1)"));
    }
    last.start /= packed;
    last.count /= packed;
    dims.back() /= packed;
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

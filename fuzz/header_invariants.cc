#include "fuzz/header_invariants.h"

#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "parser/checked_math.h"
#include "parser/dtype.h"
#include "parser/header_writer.h"

namespace safetensors {
namespace fuzzing {

void Require(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "invariant violated: %s\n", what);
    __builtin_trap();
  }
}

namespace {

struct Layout {
  Dtype dtype;
  std::vector<uint64_t> shape;
  bool operator==(const Layout& o) const { return dtype == o.dtype && shape == o.shape; }
};

std::map<std::string, Layout> LayoutsByName(const Header& header) {
  std::map<std::string, Layout> out;
  for (const TensorInfo& t : header.tensors()) {
    out[std::string(t.name)] = {t.dtype, std::vector<uint64_t>(t.shape.begin(), t.shape.end())};
  }
  return out;
}

absl::StatusOr<SerializedHeader> Serialize(const Header& header) {
  std::vector<TensorDescription> tensors;
  for (const TensorInfo& t : header.tensors()) {
    tensors.push_back({t.name, t.dtype, std::vector<uint64_t>(t.shape.begin(), t.shape.end())});
  }
  return SerializeHeader(tensors, header.metadata());
}

}  // namespace

void CheckHeaderInvariants(const Header& header) {
  Require(header.data_offset() <= header.file_size(), "data buffer starts inside the file");
  uint64_t expected_begin = 0;
  for (const TensorInfo& t : header.tensors()) {
    Require(t.data_begin == expected_begin, "tensors are contiguous from offset 0");
    Require(t.data_begin <= t.data_end, "begin <= end");
    Require(t.data_end <= header.data_size(), "tensor inside the data buffer");
    uint64_t bits = DtypeBits(t.dtype);
    for (uint64_t dim : t.shape) {
      if (dim != 0) Require(CheckedMul(bits, dim, &bits), "size in bits fits in u64");
    }
    uint64_t total_bits = 0;
    Require(CheckedMul(t.num_elements(), DtypeBits(t.dtype), &total_bits), "bit count fits");
    Require(total_bits % 8 == 0, "whole bytes");
    Require(total_bits / 8 == t.num_bytes(), "byte size equals dtype x shape");
    Require(header.Find(t.name) == &t, "found by name");
    expected_begin = t.data_end;
  }
  Require(expected_begin == header.data_size(), "tensors end at the data buffer's end");

  absl::StatusOr<SerializedHeader> serialized = Serialize(header);
  Require(serialized.ok(), "a parsed header serializes");
  // Judge the serialized header as readers do, from its prefix and the file
  // size, without allocating a data buffer that may be exabytes long.
  uint64_t file_size = 0;
  Require(CheckedAdd(serialized->bytes.size(), serialized->data_size, &file_size),
          "the canonical file's size fits in u64");
  const absl::Span<const uint8_t> prefix(
      reinterpret_cast<const uint8_t*>(serialized->bytes.data()), serialized->bytes.size());
  absl::StatusOr<Header> reparsed = ParseHeader(prefix, file_size);
  Require(reparsed.ok(), "a serialized header parses");
  Require(LayoutsByName(*reparsed) == LayoutsByName(header), "same tensors after a round trip");
  Require(reparsed->metadata() == header.metadata(), "same metadata after a round trip");
  Require(reparsed->tensors().size() == header.tensors().size(), "same tensor count");
  absl::StatusOr<SerializedHeader> again = Serialize(*reparsed);
  Require(again.ok() && again->bytes == serialized->bytes, "serialization is canonical");
}

}  // namespace fuzzing
}  // namespace safetensors

// Fuzzer-chosen tensors (every dtype this LibTorch has, small shapes, names
// and metadata of arbitrary bytes) -> save -> load: the same names, dtypes,
// shapes and bytes. save must refuse exactly the inputs no file can hold:
// names or metadata that are not UTF-8, a tensor named __metadata__,
// repeated metadata keys, a 0-dim F4 tensor.
#include <cstdint>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include <ATen/ops/empty.h>

#include "fuzz/choices.h"
#include "fuzz/header_invariants.h"
#include "parser/dtype.h"
#include "parser/error.h"
#include "parser/header.h"
#include "parser/utf8.h"
#include "torch_io/dtype_map.h"
#include "torch_io/load.h"
#include "torch_io/save.h"

namespace {

using safetensors::fuzzing::Choices;
using safetensors::fuzzing::Require;

bool IsUtf8(const std::string& s) {
  return !safetensors::FindInvalidUtf8(absl::Span<const uint8_t>(
                                           reinterpret_cast<const uint8_t*>(s.data()), s.size()))
              .has_value();
}

std::string Text(Choices& c) {
  static const char* const kPool[] = {"w", "layer.0.bias", "", "\xC3\xA9", "\xF0\x9F\x98\x80",
                                      "__metadata__", "a\nb", "q\"\\"};
  return c.Bit() ? kPool[c.Below(8)] : c.Bytes(10);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace safetensors;
  Choices c(data, size);
  TensorDict tensors;
  bool expect_ok = true;
  const uint64_t count = c.Below(6);
  for (uint64_t i = 0; i < count; ++i) {
    const std::string name = Text(c);
    const Dtype dtype = AllDtypes()[c.Below(AllDtypes().size())];
    absl::StatusOr<c10::ScalarType> type = ToScalarType(dtype, name);
    if (!type.ok() || tensors.contains(name)) continue;
    std::vector<int64_t> sizes(c.Below(4));
    for (int64_t& s : sizes) s = static_cast<int64_t>(c.Below(5));
    at::Tensor t = at::empty(sizes, at::TensorOptions().dtype(*type));
    uint8_t* p = static_cast<uint8_t*>(t.data_ptr());
    for (size_t b = 0; b < t.nbytes(); ++b) p[b] = c.Byte();
    expect_ok &= IsUtf8(name) && name != "__metadata__";
    const bool f4_scalar = dtype == Dtype::kF4 && sizes.empty();  // no file form
    expect_ok &= !f4_scalar;
    tensors.insert(name, t);
  }
  std::optional<MetadataEntries> metadata;
  if (c.Bit()) {
    metadata.emplace();
    std::set<std::string> keys;
    const uint64_t pairs = c.Below(4);
    for (uint64_t i = 0; i < pairs; ++i) {
      std::string key = Text(c), value = Text(c);
      expect_ok &= IsUtf8(key) && IsUtf8(value) && keys.insert(key).second;
      metadata->emplace_back(std::move(key), std::move(value));
    }
  }

  absl::StatusOr<std::string> bytes = save(tensors, metadata);
  Require(bytes.ok() == expect_ok, "save refuses exactly what no file can hold");
  if (!bytes.ok()) {
    const auto code = GetErrorCode(bytes.status());
    Require(code == ErrorCode::kBadArgument || code == ErrorCode::kDuplicateKey ||
                code == ErrorCode::kInvalidTensor,
            "save's refusals name the rule");
    return 0;
  }
  absl::StatusOr<Header> header = ParseHeader(*bytes);
  Require(header.ok(), "what save writes parses");
  fuzzing::CheckHeaderInvariants(*header);
  Require(header->metadata() == metadata, "metadata round-trips");
  absl::StatusOr<TensorDict> loaded = load(*bytes);
  Require(loaded.ok() && loaded->size() == tensors.size(), "what save writes loads");
  for (const auto& item : tensors) {
    const at::Tensor* back = loaded->find(item.key());
    Require(back != nullptr, "every name round-trips");
    Require(back->scalar_type() == item.value().scalar_type(), "dtype round-trips");
    Require(back->sizes() == item.value().sizes(), "shape round-trips");
    Require(back->nbytes() == item.value().nbytes() &&
                (back->nbytes() == 0 ||
                 std::memcmp(back->data_ptr(), item.value().data_ptr(), back->nbytes()) == 0),
            "bytes round-trip");
  }
  return 0;
}

// Arbitrary bytes as a torch.save checkpoint -> ParsePickleCheckpoint (with
// and without skip_unknown), and what an accepted table guarantees: every
// storage's bytes inside the file, sized numel x element size, storages not
// overlapping; every tensor inside its storage (recomputed here with wide
// arithmetic), of its storage's dtype, under a unique name; every global the
// default mode accepted is on the allow-list. And conversion round-trips: an
// accepted file converts (unless a shared storage has no covering name) to a
// safetensors file the header parser accepts, whose tensors hold exactly the
// elements gathered here from the input, in row-major order.
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "fuzz/header_invariants.h"
#include "parser/checked_math.h"
#include "parser/dtype.h"
#include "parser/error.h"
#include "io/pickle_convert.h"
#include "parser/header.h"
#include "parser/pickle_checkpoint.h"
#include "parser/pickle_testing.h"

namespace {

using namespace safetensors;
using fuzzing::Require;

void CheckTable(const PickleCheckpoint& table, size_t file_size, bool skip_unknown) {
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (const PickleStorage& storage : table.storages) {
    Require(storage.byte_size <= file_size && storage.byte_offset <= file_size - storage.byte_size,
            "storages inside the file");
    Require(static_cast<unsigned __int128>(storage.numel) * (DtypeBits(storage.dtype) / 8) == storage.byte_size,
            "storage size is numel x element size");
    ranges.emplace_back(storage.byte_offset, storage.byte_offset + storage.byte_size);
  }
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 1; i < ranges.size(); ++i) {
    Require(ranges[i].first >= ranges[i - 1].second || ranges[i - 1].first == ranges[i - 1].second,
            "storages do not overlap");
  }
  std::set<std::string> names;
  for (const PickleTensor& tensor : table.tensors) {
    Require(tensor.storage < table.storages.size(), "tensors name a storage");
    const PickleStorage& storage = table.storages[tensor.storage];
    Require(tensor.dtype == storage.dtype, "a tensor has its storage's dtype");
    Require(tensor.shape.size() == tensor.strides.size(), "one stride per dimension");
    Require(names.insert(tensor.name).second, "unique names");
    unsigned __int128 numel = 1;
    unsigned __int128 last = tensor.storage_offset;
    for (size_t d = 0; d < tensor.shape.size(); ++d) {
      numel *= tensor.shape[d];
      if (numel > (static_cast<unsigned __int128>(1) << 64)) numel = static_cast<unsigned __int128>(1) << 64;
      if (tensor.shape[d] > 0) last += static_cast<unsigned __int128>(tensor.shape[d] - 1) * tensor.strides[d];
    }
    if (numel > 0) {
      Require(last < storage.numel, "tensors inside their storage");
    } else {
      Require(tensor.storage_offset <= storage.numel, "empty tensors start inside their storage");
    }
  }
  if (!skip_unknown) {
    for (const PickleGlobalUse& global : table.globals) Require(global.allowed, "only allowed globals");
    Require(table.skipped.empty(), "nothing skipped without skip_unknown");
  }
}

std::string ReadWhole(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void CheckConversion(const uint8_t* data, size_t size, const PickleCheckpoint& table) {
  // Small inputs only: the elements are gathered one by one.
  uint64_t elements = 0;
  for (const PickleTensor& t : table.tensors) {
    uint64_t numel = 1;
    for (uint64_t d : t.shape) {
      if (!CheckedMul(numel, d, &numel)) return;
    }
    if (!CheckedAdd(elements, numel, &elements)) return;
  }
  if (elements > (uint64_t{1} << 16)) return;
  static const std::string dir = [] {
    const char* tmp = std::getenv("TEST_TMPDIR");
    return std::string(tmp != nullptr ? tmp : "/tmp");
  }();
  const std::string input = dir + "/pickle_checkpoint_fuzzer." + std::to_string(::getpid()) + ".pt";
  const std::string output = input + ".safetensors";
  {
    std::ofstream out(input, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  const absl::StatusOr<ConvertResult> converted = ConvertPickleFile(input, output, {});
  if (!converted.ok()) {
    Require(GetErrorCode(converted.status()) == ErrorCode::kInvalidTensor,
            "an accepted file converts, unless a shared storage has no covering name");
    std::remove(input.c_str());
    return;
  }
  const std::string written = ReadWhole(output);
  std::remove(input.c_str());
  std::remove(output.c_str());
  const absl::StatusOr<Header> header = ParseHeader(written);
  Require(header.ok(), "the converted file is valid safetensors");
  Require(header->tensors().size() == converted->tensors, "every written tensor is in the header");
  for (const PickleTensor& t : table.tensors) {
    const TensorInfo* info = header->Find(t.name);
    if (info == nullptr) continue;  // dropped as shared
    Require(info->dtype == t.dtype && info->shape == t.shape, "dtype and shape kept");
    Require(written.substr(header->data_offset() + info->data_begin, info->data_end - info->data_begin) ==
                testing::GatherPickleElements(absl::MakeConstSpan(data, size), table, t),
            "the elements are the input's, in row-major order");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::unique_ptr<uint8_t[]> copy(new uint8_t[size]);
  if (size > 0) std::memcpy(copy.get(), data, size);
  for (bool skip_unknown : {false, true}) {
    PickleCheckpointOptions options;
    options.skip_unknown = skip_unknown;
    options.limits.max_values = 1 << 16;
    const absl::StatusOr<PickleCheckpoint> table =
        ParsePickleCheckpoint(absl::MakeConstSpan(copy.get(), size), options);
    if (table.ok()) {
      CheckTable(*table, size, skip_unknown);
      if (!skip_unknown) CheckConversion(copy.get(), size, *table);
    } else {
      Require(GetErrorCode(table.status()).has_value(), "refusals carry an error code");
    }
  }
  return 0;
}

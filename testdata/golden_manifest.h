// The golden files' manifest (testdata/golden/manifest.tsv, written by
// tools/gen_golden.py from the reference implementation's output), read for
// tests of every layer.
#ifndef SAFETENSORS_TESTDATA_GOLDEN_MANIFEST_H_
#define SAFETENSORS_TESTDATA_GOLDEN_MANIFEST_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace safetensors {
namespace testing {

struct GoldenTensor {
  std::string name;
  std::string dtype;             // safetensors name, e.g. "F32"
  std::vector<uint64_t> shape;   // as in the file
  uint64_t data_begin = 0;
  uint64_t data_end = 0;
  std::string sha256;            // of the tensor's bytes
  std::string torch_dtype;       // e.g. "float32", as the reference loads it
  std::vector<int64_t> torch_shape;
};

struct GoldenFile {
  std::string path;  // relative to the runfiles root
  std::vector<GoldenTensor> tensors;  // in offset order
  std::optional<std::vector<std::pair<std::string, std::string>>> metadata;  // key order
};

inline constexpr char kGoldenDir[] = "testdata/golden";

// Every file of the manifest; fails the calling test on a malformed row.
std::vector<GoldenFile> ReadGoldenManifest();

}  // namespace testing
}  // namespace safetensors

#endif  // SAFETENSORS_TESTDATA_GOLDEN_MANIFEST_H_

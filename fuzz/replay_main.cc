// The main of every fuzz target in the default build: runs
// LLVMFuzzerTestOneInput once on each file named on the command line (seeds
// and stored findings), so `bazel test //...` replays them all. Each input
// is copied to a heap buffer of exactly its size, so a sanitizer sees
// one-past-the-end reads. Fails when it ran no input at all.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

int main(int argc, char** argv) {
  int replayed = 0;
  for (int i = 1; i < argc; ++i) {
    std::ifstream in(argv[i], std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "replay: cannot read %s\n", argv[i]);
      return 1;
    }
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::unique_ptr<uint8_t[]> exact(new uint8_t[bytes.size()]);
    if (!bytes.empty()) std::memcpy(exact.get(), bytes.data(), bytes.size());
    LLVMFuzzerTestOneInput(exact.get(), bytes.size());
    ++replayed;
  }
  std::printf("replay: %d inputs replayed\n", replayed);
  if (replayed == 0) {
    std::fprintf(stderr, "replay: no inputs; the corpus glob matched nothing\n");
    return 1;
  }
  return 0;
}

// A fuzzed index over fuzzed shards -> Checkpoint::Open. The input is pieces
// split at "\0SHARD\0": the first is model.safetensors.index.json, each next
// one is written as model-<i>-of-<n>.safetensors in a fresh directory. On
// success every rule across shards must hold: each weight_map tensor is in
// the shard it names, no tensor is in two shards, none is unlisted, and every
// shard's header holds the header invariants.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "fuzz/header_invariants.h"
#include "io/checkpoint.h"
#include "parser/error.h"

namespace {

// One directory per process, emptied for each input.
const std::string& WorkDir() {
  static const std::string* dir = [] {
    const char* base = std::getenv("TEST_TMPDIR");
    auto* path = new std::string(absl::StrCat(base != nullptr ? base : "/tmp",
                                              "/checkpoint_fuzzer.", ::getpid()));
    return path;
  }();
  return *dir;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace safetensors;
  using fuzzing::Require;
  constexpr size_t kMaxShards = 8;
  const std::vector<std::string> pieces = absl::StrSplit(
      absl::string_view(reinterpret_cast<const char*>(data), size), absl::string_view("\0SHARD\0", 7));
  const std::string& dir = WorkDir();
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/model.safetensors.index.json", std::ios::binary) << pieces[0];
  const size_t shards = std::min(pieces.size() - 1, kMaxShards);
  for (size_t i = 0; i < shards; ++i) {
    std::ofstream(absl::StrFormat("%s/model-%05d-of-%05d.safetensors", dir, i + 1, shards),
                  std::ios::binary)
        << pieces[i + 1];
  }
  absl::StatusOr<Checkpoint> checkpoint = Checkpoint::Open(dir);
  if (!checkpoint.ok()) {
    Require(GetErrorCode(checkpoint.status()).has_value(), "every error has a code");
    Require(checkpoint.status().code() != absl::StatusCode::kInternal, "no internal errors");
    return 0;
  }
  Require(checkpoint->index().has_value(), "a directory with an index is sharded");
  const CheckpointIndex& index = *checkpoint->index();
  Require(checkpoint->num_tensors() == index.weight_map().size(), "nothing unlisted");
  for (const CheckpointIndex::Entry& entry : index.weight_map()) {
    std::optional<Checkpoint::Location> where = checkpoint->Find(entry.tensor);
    Require(where.has_value() && where->shard == entry.shard, "each tensor where weight_map says");
    Require(where->info->name == entry.tensor, "the location's tensor has the name");
  }
  size_t in_shards = 0;
  for (const CheckpointShard& shard : checkpoint->shards()) {
    fuzzing::CheckHeaderInvariants(shard.header);
    in_shards += shard.header.tensors().size();
  }
  Require(in_shards == checkpoint->num_tensors(), "no tensor in two shards");
  Require(checkpoint->InShardOrder().size() == checkpoint->num_tensors(), "shard order lists all");
  return 0;
}

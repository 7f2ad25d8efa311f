#include "io/pickle_convert.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "io/atomic_file.h"
#include "io/checkpoint.h"
#include "io/file.h"
#include "io/pickle_file.h"
#include "parser/checkpoint_index.h"
#include "parser/checkpoint_index_writer.h"
#include "parser/dtype.h"
#include "parser/error.h"
#include "parser/header_writer.h"
#include "parser/shared_storage.h"
#include "parser/status_macros.h"

namespace safetensors {
namespace {

uint64_t ElementSize(Dtype dtype) { return DtypeBits(dtype) / 8; }

uint64_t NumElements(const PickleTensor& t) {
  uint64_t n = 1;
  for (uint64_t d : t.shape) n *= d;  // within its storage: no overflow
  return n;
}

// Row-major with no gaps (dimensions of size 1 may have any stride), as
// torch's is_contiguous says.
bool IsContiguous(const PickleTensor& t) {
  uint64_t expected = 1;
  for (size_t d = t.shape.size(); d-- > 0;) {
    if (t.shape[d] != 1 && t.strides[d] != expected) return false;
    expected *= t.shape[d];
  }
  return true;
}

// The tensor's bytes in storage, [start, stop): what the reference compares
// to find shared storages (its data pointer and the end of its last element).
StorageArea AreaOf(const PickleCheckpoint& table, const PickleTensor& t) {
  const PickleStorage& storage = table.storages[t.storage];
  const uint64_t element = ElementSize(t.dtype);
  StorageArea area;
  area.storage = t.storage;
  area.start = t.storage_offset * element;
  area.stop = area.start;
  const uint64_t numel = NumElements(t);
  if (numel > 0) {
    uint64_t last = 0;
    for (size_t d = 0; d < t.shape.size(); ++d) last += (t.shape[d] - 1) * t.strides[d];
    area.stop = area.start + (last + 1) * element;
  }
  area.whole_storage = area.start == 0 && numel * element == storage.byte_size;
  area.name = t.name;
  return area;
}

// Writes tensors contiguously and little-endian, each at its place in `out`,
// in the order given. (Writers on several threads were measured and did not
// help: writes to one file take its inode's lock in turn.)
class TensorWriter {
 public:
  struct Job {
    const PickleTensor* tensor;
    uint64_t offset;  // in the output file
  };

  TensorWriter(const PickleCheckpointFile& f, AtomicFileWriter& out, const ConvertOptions& options,
               uint64_t total)
      : f_(f), out_(out), options_(options), total_(total) {}

  absl::Status WriteAll(const std::vector<Job>& jobs) {
    std::vector<uint8_t> buffer;
    for (const Job& job : jobs) {
      const absl::Status status = Write(job, buffer);
      if (!status.ok()) return AddContext(status, absl::StrCat("tensor ", QuoteForMessage(job.tensor->name)));
    }
    return absl::OkStatus();
  }

  uint64_t copied_by_kernel() const { return copied_by_kernel_; }

 private:
  absl::Status Write(const Job& job, std::vector<uint8_t>& buffer) {
    const PickleTensor& t = *job.tensor;
    const uint64_t element = ElementSize(t.dtype);
    const uint64_t numel = NumElements(t);
    if (numel == 0) return absl::OkStatus();
    const PickleStorage& storage = f_.table.storages[t.storage];
    const uint64_t start = storage.byte_offset + t.storage_offset * element;
    if (IsContiguous(t) && !f_.table.big_endian) {
      SAFETENSORS_RETURN_IF_ERROR(out_.CopyAt(*f_.file, start, numel * element, job.offset));
      copied_by_kernel_ += numel * element;
      Written(numel * element);
      return absl::OkStatus();
    }
    // Runs of the innermost dimension when it is dense, else single elements,
    // gathered in row-major order from the mapping (the page cache) into a
    // bounded buffer.
    const size_t rank = t.shape.size();
    const bool dense_rows = rank > 0 && t.strides[rank - 1] == 1;
    const uint64_t run = dense_rows ? t.shape[rank - 1] : 1;
    const size_t outer = dense_rows ? rank - 1 : rank;
    std::vector<uint64_t> index(outer, 0);
    const absl::Span<const uint8_t> file = f_.mapping->bytes();
    uint64_t written = job.offset;
    const auto flush = [&]() -> absl::Status {
      SAFETENSORS_RETURN_IF_ERROR(
          out_.WriteAt(absl::string_view(reinterpret_cast<const char*>(buffer.data()), buffer.size()), written));
      Written(buffer.size());
      written += buffer.size();
      buffer.clear();
      return absl::OkStatus();
    };
    for (uint64_t done = 0; done < numel; done += run) {
      uint64_t at = start;
      for (size_t d = 0; d < outer; ++d) at += index[d] * t.strides[d] * element;
      for (uint64_t i = 0; i < run; ++i) {
        const uint8_t* element_bytes = file.data() + at + i * element;
        if (f_.table.big_endian) {
          for (uint64_t b = element; b-- > 0;) buffer.push_back(element_bytes[b]);
        } else {
          buffer.insert(buffer.end(), element_bytes, element_bytes + element);
        }
        if (buffer.size() + element > options_.buffer_bytes) SAFETENSORS_RETURN_IF_ERROR(flush());
      }
      for (size_t d = outer; d-- > 0;) {
        if (++index[d] < t.shape[d]) break;
        index[d] = 0;
      }
    }
    return buffer.empty() ? absl::OkStatus() : flush();
  }

  // Reports progress, and hands what is written to the disk every
  // kWritebackBytes while the copy goes on: the fsync at the end then waits
  // for little more than the last stretch, where writing everything after
  // the copy, as `cp` then `sync` does, costs a copy plus a full write-out.
  // The whole file each time, not the stretch just written: tensors land
  // all over the output (in the input's order), and a hint per small tensor
  // would be as many small disk writes.
  void Written(uint64_t bytes) {
    done_ += bytes;
    if (options_.progress) options_.progress(done_, total_);
    unhanded_ += bytes;
    if (unhanded_ >= kWritebackBytes) {
      out_.StartWriteback();
      unhanded_ = 0;
    }
  }
  static constexpr uint64_t kWritebackBytes = uint64_t{16} << 20;

  const PickleCheckpointFile& f_;
  AtomicFileWriter& out_;
  const ConvertOptions& options_;
  const uint64_t total_;
  uint64_t copied_by_kernel_ = 0;
  uint64_t done_ = 0;
  uint64_t unhanded_ = 0;  // bytes written since the last StartWriteback
};

}  // namespace

std::string SafetensorsNameFor(const std::string& pickle_name) {
  const size_t slash = pickle_name.rfind('/');
  const size_t dot = pickle_name.rfind('.');
  const std::string stem =
      dot != std::string::npos && (slash == std::string::npos || dot > slash) ? pickle_name.substr(0, dot)
                                                                             : pickle_name;
  return absl::StrReplaceAll(absl::StrCat(stem, ".safetensors"), {{"pytorch_model", "model"}});
}

namespace {

uint64_t TensorBytes(const PickleCheckpoint& table) {
  uint64_t total = 0;
  for (const PickleTensor& t : table.tensors) total += NumElements(t) * ElementSize(t.dtype);
  return total;
}

// Converts the opened checkpoint `f` (read from `input`). Progress reports
// add `done_before` to this file's bytes, out of `grand_total`.
absl::StatusOr<ConvertResult> ConvertOpened(const PickleCheckpointFile& f, const std::string& input,
                                            const std::string& output, const ConvertOptions& options,
                                            uint64_t done_before, uint64_t grand_total) {
  const PickleCheckpoint& table = f.table;
  // Shared storages: the reference's groups, kept and dropped names (only
  // tensors with bytes have an area).
  std::vector<StorageArea> areas;
  for (const PickleTensor& t : table.tensors) {
    if (table.storages[t.storage].byte_size > 0) areas.push_back(AreaOf(table, t));
  }
  absl::StatusOr<std::map<std::string, std::vector<std::string>>> to_remove =
      ChooseNamesToRemove(FindSharedGroups(areas), areas, {}, options.discard_names);
  if (!to_remove.ok()) return AddContext(to_remove.status(), QuoteForMessage(input));
  ConvertResult result;
  std::map<std::string, std::string> dropped;  // dropped -> kept, the first kept wins
  for (const auto& [kept, names] : *to_remove) {
    for (const std::string& name : names) dropped.emplace(name, kept);
  }
  MetadataEntries metadata = {{"format", "pt"}};
  for (const auto& [name, kept] : dropped) {
    if (name == "format") continue;  // the reference's dict keeps its first value
    metadata.emplace_back(name, kept);
    result.dropped.emplace_back(name, kept);
  }
  std::vector<const PickleTensor*> written;
  std::vector<TensorDescription> descriptions;
  uint64_t total = 0;
  for (const PickleTensor& t : table.tensors) {
    if (dropped.count(t.name) != 0) continue;
    written.push_back(&t);
    descriptions.push_back({t.name, t.dtype, t.shape});
    total += NumElements(t) * ElementSize(t.dtype);
  }
  SAFETENSORS_ASSIGN_OR_RETURN(const SerializedHeader header, SerializeHeader(descriptions, metadata));
  SAFETENSORS_ASSIGN_OR_RETURN(AtomicFileWriter out, AtomicFileWriter::Create(output));
  SAFETENSORS_RETURN_IF_ERROR(out.Append(header.bytes));
  ConvertOptions scaled = options;
  if (options.progress) {
    scaled.progress = [&](uint64_t done, uint64_t) { options.progress(done_before + done, grand_total); };
  }
  // The input read front to back (cold, the kernel reads ahead of it), each
  // tensor written at its place in the output.
  std::vector<TensorWriter::Job> jobs;
  jobs.reserve(header.layout.size());
  for (const TensorPlacement& placement : header.layout) {
    jobs.push_back({written[placement.input_index], header.bytes.size() + placement.data_begin});
  }
  std::sort(jobs.begin(), jobs.end(), [&](const TensorWriter::Job& a, const TensorWriter::Job& b) {
    return std::make_pair(table.storages[a.tensor->storage].byte_offset, a.tensor->storage_offset) <
           std::make_pair(table.storages[b.tensor->storage].byte_offset, b.tensor->storage_offset);
  });
  ::posix_fadvise(f.file->fd(), 0, 0, POSIX_FADV_SEQUENTIAL);
  TensorWriter writer(f, out, scaled, total);
  SAFETENSORS_RETURN_IF_ERROR(writer.WriteAll(jobs));
  result.copied_by_kernel = writer.copied_by_kernel();
  SAFETENSORS_RETURN_IF_ERROR(out.Commit());
  result.tensors = written.size();
  result.bytes = header.bytes.size() + header.data_size;
  return result;
}

}  // namespace

absl::StatusOr<ConvertResult> ConvertPickleFile(const std::string& input, const std::string& output,
                                                const ConvertOptions& options) {
  SAFETENSORS_ASSIGN_OR_RETURN(const PickleCheckpointFile f, OpenPickleCheckpoint(input, options.pickle));
  const uint64_t total = TensorBytes(f.table);
  return ConvertOpened(f, input, output, options, 0, total);
}

absl::StatusOr<CheckpointConversion> ConvertPickleCheckpoint(const std::string& input,
                                                             const std::string& output_dir,
                                                             const ConvertOptions& options) {
  const PickleCheckpointPath resolved = ResolvePickleCheckpointPath(input);
  if (!resolved.sharded) {
    return MakeError(ErrorCode::kBadArgument,
                     absl::StrCat(QuoteForMessage(input), " is not a sharded checkpoint (no ", kPickleIndexName, ")"));
  }
  // Every shard read, validated and checked against the index before
  // anything is written.
  SAFETENSORS_ASSIGN_OR_RETURN(const ShardedPickleCheckpoint checkpoint,
                               OpenShardedPickleCheckpoint(resolved.path, options.pickle));
  const CheckpointIndex& index = checkpoint.index;
  const std::vector<PickleCheckpointFile>& shards = checkpoint.shards;
  const std::string& dir = checkpoint.directory;
  uint64_t grand_total = 0;
  for (const PickleCheckpointFile& f : shards) grand_total += TensorBytes(f.table);
  if (::mkdir(output_dir.c_str(), 0777) != 0 && errno != EEXIST) {
    return MakeIoError(errno, absl::StrCat("cannot make ", QuoteForMessage(output_dir)));
  }
  CheckpointConversion result;
  uint64_t done = 0;
  for (size_t i = 0; i < shards.size(); ++i) {
    const std::string& name = index.shards()[i];
    const std::string output = absl::StrCat(output_dir, "/", SafetensorsNameFor(name));
    absl::StatusOr<ConvertResult> r = ConvertOpened(shards[i], dir + name, output, options, done, grand_total);
    if (!r.ok()) return AddContext(r.status(), absl::StrCat("shard ", QuoteForMessage(name)));
    done += TensorBytes(shards[i].table);
    result.outputs.push_back(output);
    result.total.tensors += r->tensors;
    result.total.bytes += r->bytes;
    result.total.copied_by_kernel += r->copied_by_kernel;
    result.total.dropped.insert(result.total.dropped.end(), r->dropped.begin(), r->dropped.end());
  }
  std::vector<std::pair<std::string, std::string>> weight_map;
  weight_map.reserve(index.weight_map().size());
  for (const CheckpointIndex::Entry& entry : index.weight_map()) {
    weight_map.emplace_back(std::string(entry.tensor), SafetensorsNameFor(index.shards()[entry.shard]));
  }
  SAFETENSORS_ASSIGN_OR_RETURN(const std::string text,
                               SerializeCheckpointIndex(index.metadata(), weight_map, /*indent=*/4));
  result.index_path = absl::StrCat(output_dir, "/model.safetensors.index.json");
  SAFETENSORS_ASSIGN_OR_RETURN(AtomicFileWriter out, AtomicFileWriter::Create(result.index_path));
  SAFETENSORS_RETURN_IF_ERROR(out.Append(text));
  SAFETENSORS_RETURN_IF_ERROR(out.Commit());
  return result;
}

}  // namespace safetensors

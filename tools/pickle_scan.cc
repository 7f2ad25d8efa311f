#include "tools/pickle_scan.h"

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "io/pickle_file.h"
#include "parser/dtype.h"
#include "parser/error.h"
#include "parser/json_string.h"
#include "tools/cli_util.h"

namespace safetensors {
namespace cli {
namespace {

uint64_t TensorBytes(const PickleTensor& t) {
  uint64_t numel = 1;
  for (uint64_t d : t.shape) numel *= d;  // within its storage: cannot overflow
  return numel * (DtypeBits(t.dtype) / 8);
}

std::string StrideText(const PickleTensor& t) { return ShapeText(t.strides); }

}  // namespace

const char* PickleFormatName(PickleFormat format) {
  return format == PickleFormat::kZip ? "torch-zip" : "torch-legacy";
}

std::vector<GlobalSummary> SummarizeGlobals(const PickleCheckpoint& table) {
  std::vector<GlobalSummary> summary;
  std::map<std::string, size_t> index;
  for (const PickleGlobalUse& use : table.globals) {
    auto [it, added] = index.emplace(use.name, summary.size());
    if (added) summary.push_back({use.name, 0, use.offset, use.allowed});
    ++summary[it->second].count;
  }
  return summary;
}

std::string GlobalsJson(const PickleCheckpoint& table) {
  std::string json = "[";
  bool first = true;
  for (const GlobalSummary& g : SummarizeGlobals(table)) {
    absl::StrAppend(&json, first ? "" : ",", "{\"name\":", JsonStringForTerminal(g.name),
                    ",\"allowed\":", g.allowed ? "true" : "false", ",\"count\":", g.count,
                    ",\"first_offset\":", g.first_offset, "}");
    first = false;
  }
  return json + "]";
}

namespace {

// One file's view: JSON (one object, no newline) or text.
void PrintPickleFile(const std::string& shown, const PickleCheckpointFile& opened, bool json,
                     const internal::TensorFilter& filter, std::ostream& out) {
  const PickleCheckpoint& table = opened.table;
  std::vector<const PickleTensor*> rows;
  uint64_t parameters = 0, bytes = 0;
  std::map<std::string, std::pair<uint64_t, uint64_t>> by_dtype;  // bytes, count
  for (const PickleTensor& t : table.tensors) {
    if (!filter.Selects(t.name)) continue;
    rows.push_back(&t);
    const uint64_t n = TensorBytes(t);
    parameters += n / (DtypeBits(t.dtype) / 8);
    bytes += n;
    auto& entry = by_dtype[std::string(DtypeName(t.dtype))];
    entry.first += n;
    entry.second += 1;
  }
  if (json) {
    std::string text = absl::StrCat(
        "{\"file\":", JsonStringForTerminal(shown), ",\"file_size\":", opened.file->size(),
        ",\"format\":\"", PickleFormatName(table.format), "\",\"byteorder\":\"",
        table.big_endian ? "big" : "little", "\",\"archive_prefix\":",
        table.format == PickleFormat::kZip ? JsonStringForTerminal(table.archive_prefix) : "null",
        ",\"root\":", JsonStringForTerminal(table.root_path), ",\"globals\":", GlobalsJson(table),
        ",\"tensors\":[");
    for (size_t i = 0; i < rows.size(); ++i) {
      const PickleTensor& t = *rows[i];
      absl::StrAppend(&text, i ? "," : "", "{\"name\":", JsonStringForTerminal(t.name), ",\"dtype\":\"",
                      DtypeName(t.dtype), "\",\"shape\":", ShapeJson(t.shape),
                      ",\"strides\":", ShapeJson(t.strides),
                      ",\"storage\":", JsonStringForTerminal(table.storages[t.storage].key),
                      ",\"storage_offset\":", t.storage_offset, ",\"bytes\":", TensorBytes(t),
                      ",\"parameter\":", t.parameter ? "true" : "false", "}");
    }
    text += "],\"storages\":[";
    for (size_t i = 0; i < table.storages.size(); ++i) {
      const PickleStorage& s = table.storages[i];
      absl::StrAppend(&text, i ? "," : "", "{\"key\":", JsonStringForTerminal(s.key), ",\"dtype\":\"",
                      DtypeName(s.dtype), "\",\"elements\":", s.numel, ",\"bytes\":", s.byte_size,
                      ",\"offset\":", s.byte_offset, "}");
    }
    const auto others_json = [](const std::vector<PickleOther>& list) {
      std::string array = "[";
      for (size_t i = 0; i < list.size(); ++i) {
        absl::StrAppend(&array, i ? "," : "", "{\"name\":", JsonStringForTerminal(list[i].name),
                        ",\"value\":", JsonStringForTerminal(list[i].description), "}");
      }
      return array + "]";
    };
    absl::StrAppend(&text, "],\"others\":", others_json(table.others), ",\"skipped\":", others_json(table.skipped),
                    ",\"totals\":{\"tensors\":", rows.size(), ",\"parameters\":", parameters,
                    ",\"bytes\":", bytes, ",\"bytes_by_dtype\":{");
    bool first = true;
    for (const auto& [dtype, entry] : by_dtype) {
      absl::StrAppend(&text, first ? "" : ",", "\"", dtype, "\":", entry.first);
      first = false;
    }
    out << text << "}}}";
    return;
  }
  out << "file: " << EscapeText(shown) << " (" << opened.file->size() << " bytes; "
      << PickleFormatName(table.format);
  if (table.format == PickleFormat::kZip) out << ", folder " << QuoteForMessage(table.archive_prefix);
  out << ", " << (table.big_endian ? "big" : "little") << "-endian; read as data, nothing run)\n";
  out << "globals:\n";
  for (const GlobalSummary& g : SummarizeGlobals(table)) {
    out << absl::StrFormat("  %-45s  %-9s  %5d x, first at byte %d\n", EscapeText(g.name),
                           g.allowed ? "allowed" : "SKIPPED", g.count, g.first_offset);
  }
  out << "tensors" << (table.root_path.empty() ? "" : " (from " + QuoteForMessage(table.root_path) + ")")
      << ":\n";
  std::vector<std::string> names;
  size_t name_width = 4, shape_width = 5, stride_width = 6;
  for (const PickleTensor* t : rows) {
    names.push_back(EscapeText(t->name));
    name_width = std::max(name_width, std::min<size_t>(names.back().size(), 60));
    shape_width = std::max(shape_width, ShapeText(t->shape).size());
    stride_width = std::max(stride_width, StrideText(*t).size());
  }
  out << absl::StrFormat("%-*s  %-11s  %-*s  %-*s  %-8s  %12s  %14s\n", static_cast<int>(name_width), "NAME",
                         "DTYPE", static_cast<int>(shape_width), "SHAPE", static_cast<int>(stride_width),
                         "STRIDE", "STORAGE", "OFFSET", "BYTES");
  for (size_t i = 0; i < rows.size(); ++i) {
    const PickleTensor& t = *rows[i];
    out << absl::StrFormat("%-*s  %-11s  %-*s  %-*s  %-8s  %12d  %14d\n", static_cast<int>(name_width), names[i],
                           DtypeName(t.dtype), static_cast<int>(shape_width), ShapeText(t.shape),
                           static_cast<int>(stride_width), StrideText(t),
                           EscapeText(table.storages[t.storage].key), t.storage_offset, TensorBytes(t));
  }
  out << "storages:\n";
  for (const PickleStorage& s : table.storages) {
    out << absl::StrFormat("  %-8s  %-11s  %12d elements  %14d bytes at byte %d\n", EscapeText(s.key),
                           DtypeName(s.dtype), s.numel, s.byte_size, s.byte_offset);
  }
  if (!table.others.empty()) out << "other values:\n";
  for (const PickleOther& o : table.others) out << "  " << EscapeText(o.name) << ": " << EscapeText(o.description) << "\n";
  if (!table.skipped.empty()) out << "skipped (made by globals outside the allow-list; not extracted):\n";
  for (const PickleOther& o : table.skipped) out << "  " << EscapeText(o.name) << ": " << EscapeText(o.description) << "\n";
  out << "total: " << rows.size() << " tensors, " << parameters << " parameters, " << bytes << " bytes\n";
  for (const auto& [dtype, entry] : by_dtype) {
    out << "  " << dtype << ": " << entry.second << " tensors, " << entry.first << " bytes\n";
  }
}

}  // namespace

int InspectPickle(const std::string& shown, const std::string& path, bool json, bool skip_unknown,
                  const internal::TensorFilter& filter, std::ostream& out, std::ostream& err) {
  PickleCheckpointOptions options;
  options.skip_unknown = skip_unknown;
  const PickleCheckpointPath resolved = ResolvePickleCheckpointPath(path);
  if (!resolved.sharded) {
    absl::StatusOr<PickleCheckpointFile> opened = OpenPickleCheckpoint(resolved.path, options);
    if (!opened.ok()) return ReportError(shown, opened.status(), err);
    PrintPickleFile(shown, *opened, json, filter, out);
    if (json) out << "\n";
    return kExitOk;
  }
  // A sharded checkpoint: validated whole, then each shard as a file.
  absl::StatusOr<ShardedPickleCheckpoint> checkpoint = OpenShardedPickleCheckpoint(resolved.path, options);
  if (!checkpoint.ok()) return ReportError(shown, checkpoint.status(), err);
  const std::vector<std::string>& names = checkpoint->index.shards();
  if (json) {
    out << "{\"checkpoint\":" << JsonStringForTerminal(shown) << ",\"index\":"
        << JsonStringForTerminal(resolved.path.substr(checkpoint->directory.size())) << ",\"shards\":[";
    for (size_t i = 0; i < names.size(); ++i) {
      if (i > 0) out << ",";
      PrintPickleFile(names[i], checkpoint->shards[i], json, filter, out);
    }
    out << "]}\n";
    return kExitOk;
  }
  out << "checkpoint: " << EscapeText(shown) << " (" << names.size() << " torch.save shards, "
      << checkpoint->index.weight_map().size() << " tensors; each shard holds what its index says)\n";
  for (size_t i = 0; i < names.size(); ++i) {
    out << "\n";
    PrintPickleFile(names[i], checkpoint->shards[i], json, filter, out);
  }
  return kExitOk;
}

}  // namespace cli
}  // namespace safetensors

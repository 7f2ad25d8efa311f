#include "tools/scan_commands.h"


#include <algorithm>
#include <map>
#include <optional>
#include <sstream>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "io/checkpoint.h"
#include "io/file.h"
#include "io/header_file.h"
#include "io/pickle_file.h"
#include "io/tensor_filter.h"
#include "parser/dtype.h"
#include "parser/error.h"
#include "parser/checkpoint_index.h"
#include "parser/header.h"
#include "parser/json_string.h"
#include "parser/lint.h"
#include "parser/status_macros.h"
#include "tools/cli_util.h"
#include "tools/pickle_scan.h"
#include "tools/verify_command.h"

namespace safetensors {
namespace cli {

using internal::TensorFilter;

constexpr char kCheckUsage[] = R"(usage: safetensors check [--json] [--strict[=warn|error]] [--verify] [--skip-unknown] FILE...

Validates each file's header and layout exactly as the reference
implementation does, plus this project's stricter rules, reading only the
header. A FILE that is a directory or a model.safetensors.index.json is a
checkpoint: its index and every shard are validated, and the rules across
shards checked (each shard named exists, holds what weight_map says, nothing
unlisted, no tensor twice). --json prints one object per file per line: file,
ok, code, reference_class, message, tensors, bytes, warnings, and for a
checkpoint "shards" with one such object per shard. --strict (=warn) also
reports hygiene issues the format tolerates: a header not padded to 8 bytes,
unknown fields, tensors not in the canonical writer's order, data misaligned
for its dtype, a checkpoint whose total_size differs from its shards' data;
--strict=error fails on them. --verify also checks each file's content
against its hub-cache blob name, as `safetensors verify` does, in the same
pass over the files (its lines follow).
A FILE that is a torch.save checkpoint (pytorch_model.bin, .pt, .ckpt; told
by its content) is read as data, never run: its zip or legacy framing, its
pickle's opcodes and every global it names are checked against what
torch.save writes for tensors; anything else (os.system, eval, custom
classes, quantized tensors) is refused, naming it and its byte offset.
--skip-unknown instead keeps such objects as inert placeholders, reported as
warnings; the tensors under them are not extracted. Its JSON adds format,
storages and globals (name, allowed, count, first_offset). A directory of
torch.save shards (pytorch_model.bin.index.json, or pytorch_model.bin and no
.safetensors file) or that index is checked whole: every shard read so, and
the index against them, as for a safetensors checkpoint.
exit: 0 all valid, 1 any invalid (or warnings with --strict=error, or a
mismatch or missing file with --verify), 2 usage/I-O.
)";

constexpr char kInspectUsage[] = R"(usage: safetensors inspect [--json] [--filter REGEX] [--skip-unknown] FILE

FILE is a .safetensors file, or a checkpoint (a directory or an index).
Prints the metadata, for a checkpoint its shards, a table of tensors (name,
dtype, shape, size, offset, and shard for a checkpoint) and
totals (count, parameters, bytes by dtype). Reads only the header, so a
multi-gigabyte file takes no longer than a small one. --filter keeps tensors
whose name the RE2 pattern matches (anywhere; anchor with ^ and $).
A torch.save checkpoint (pytorch_model.bin, .pt, .ckpt) is read as data:
its format, every global its pickle names (allowed or skipped), tensors
(with strides and storage offsets), storages, non-tensor values (epochs,
strings) and skipped objects (--skip-unknown, as for check); a directory of
torch.save shards or its pytorch_model.bin.index.json, once all of it is
checked, shard by shard.
)";

namespace {

struct CheckResult {
  std::string file;
  absl::Status status;
  uint64_t tensors = 0;
  uint64_t bytes = 0;
  std::vector<std::string> warnings;
  // A checkpoint's shards, each checked on its own.
  bool is_checkpoint = false;
  std::vector<CheckResult> shards;
  // A torch.save file: its format and globals.
  std::optional<PickleCheckpoint> pickle;
};

// The names torch.save files go by: pytorch_model.bin, *.pt, *.pth, *.ckpt.
// Only for choosing which refusal to report; acceptance is by content.
bool HasPickleCheckpointName(const std::string& path) {
  for (const char* suffix : {".bin", ".pt", ".pth", ".ckpt"}) {
    if (absl::EndsWith(path, suffix)) return true;
  }
  return false;
}

// A directory or an index is a checkpoint; any other path one file.
bool IsCheckpointPath(const std::string& path) {
  return absl::EndsWith(path, ".index.json") || IsDirectory(path);
}

CheckResult CheckFile(const std::string& shown, const std::string& path, bool strict) {
  CheckResult result;
  result.file = shown;
  absl::StatusOr<Header> header = ReadHeaderFile(path);
  result.status = header.status();
  if (!header.ok()) return result;
  result.tensors = header->tensors().size();
  result.bytes = header->file_size();
  if (strict) result.warnings = HygieneWarnings(*header);
  return result;
}

// A torch.save file, read as data: refused unless every global is on the
// allow-list (or, with skip_unknown, kept as a placeholder and reported).
CheckResult PickleResult(const std::string& shown, absl::StatusOr<PickleCheckpointFile> opened) {
  CheckResult result;
  result.file = shown;
  result.status = opened.status();
  if (!opened.ok()) return result;
  result.tensors = opened->table.tensors.size();
  result.bytes = opened->file->size();
  for (const PickleOther& skipped : opened->table.skipped) {
    result.warnings.push_back(absl::StrCat("skipped ", QuoteForMessage(skipped.name), ": ",
                                           skipped.description, " (not extracted)"));
  }
  result.pickle = std::move(opened->table);
  return result;
}

CheckResult CheckPickleFile(const std::string& shown, const std::string& path, bool skip_unknown) {
  PickleCheckpointOptions options;
  options.skip_unknown = skip_unknown;
  return PickleResult(shown, OpenPickleCheckpoint(path, options));
}

// A torch.save checkpoint given as a directory or an index: one file, or
// the index and its shards, each shard's verdict beside the whole's (each
// checked on its own when the whole is refused, as CheckCheckpoint does).
CheckResult CheckPickleCheckpoint(const std::string& shown, const std::string& path, bool skip_unknown) {
  const PickleCheckpointPath resolved = ResolvePickleCheckpointPath(path);
  if (!resolved.sharded) return CheckPickleFile(shown, resolved.path, skip_unknown);
  CheckResult result;
  result.file = shown;
  result.is_checkpoint = true;
  PickleCheckpointOptions options;
  options.skip_unknown = skip_unknown;
  absl::StatusOr<ShardedPickleCheckpoint> checkpoint = OpenShardedPickleCheckpoint(resolved.path, options);
  result.status = checkpoint.status();
  if (checkpoint.ok()) {
    for (size_t i = 0; i < checkpoint->shards.size(); ++i) {
      result.shards.push_back(PickleResult(checkpoint->index.shards()[i], std::move(checkpoint->shards[i])));
      result.tensors += result.shards.back().tensors;
      result.bytes += result.shards.back().bytes;
    }
    return result;
  }
  IndexOptions index_options;
  index_options.shard_extension = ".bin";
  absl::StatusOr<CheckpointIndex> index = ReadCheckpointIndex(resolved.path, index_options);
  if (!index.ok()) return result;
  const std::string dir = DirectoryOf(resolved.path) + "/";
  for (const std::string& name : index->shards()) {
    result.shards.push_back(CheckPickleFile(name, dir + name, skip_unknown));
  }
  return result;
}

// The whole checkpoint's verdict, and each shard's: from the validated
// checkpoint, or, when it is invalid, from each shard the index names.
CheckResult CheckCheckpoint(const std::string& shown, const std::string& path, bool strict) {
  CheckResult result;
  result.file = shown;
  result.is_checkpoint = true;
  absl::StatusOr<Checkpoint> checkpoint = Checkpoint::Open(path);
  result.status = checkpoint.status();
  if (checkpoint.ok()) {
    result.tensors = checkpoint->num_tensors();
    for (const CheckpointShard& shard : checkpoint->shards()) {
      CheckResult r;
      r.file = shard.name;
      r.tensors = shard.header.tensors().size();
      r.bytes = shard.header.file_size();
      if (strict) r.warnings = HygieneWarnings(shard.header);
      result.bytes += r.bytes;
      result.shards.push_back(std::move(r));
    }
    if (strict) result.warnings = checkpoint->warnings();
    return result;
  }
  // Which shards are fine on their own, when the index itself is.
  absl::StatusOr<std::string> index_path = IndexPathOf(path);
  if (!index_path.ok()) return result;
  absl::StatusOr<CheckpointIndex> index = ReadCheckpointIndex(*index_path);
  if (!index.ok()) return result;
  const std::string dir = DirectoryOf(*index_path) + "/";
  for (const std::string& name : index->shards()) {
    result.shards.push_back(CheckFile(name, dir + name, strict));
  }
  return result;
}

std::string CheckJson(const CheckResult& r) {
  std::string json = absl::StrCat("{\"file\":", JsonStringForTerminal(r.file),
                                  ",\"ok\":", r.status.ok() ? "true" : "false");
  const std::optional<ErrorCode> code = GetErrorCode(r.status);
  if (r.status.ok() || !code.has_value()) {
    absl::StrAppend(&json, ",\"code\":null,\"reference_class\":null");
  } else {
    const absl::string_view reference = ReferenceErrorClass(*code);
    absl::StrAppend(&json, ",\"code\":", JsonStringForTerminal(ErrorCodeName(*code)),
                    ",\"reference_class\":", reference.empty() ? "null" : JsonStringForTerminal(reference));
  }
  absl::StrAppend(&json, ",\"message\":",
                  r.status.ok() ? "null" : JsonStringForTerminal(r.status.message()),
                  ",\"tensors\":", r.tensors, ",\"bytes\":", r.bytes, ",\"warnings\":[");
  for (size_t i = 0; i < r.warnings.size(); ++i) {
    absl::StrAppend(&json, i ? "," : "", JsonStringForTerminal(r.warnings[i]));
  }
  json += "]";
  if (r.pickle.has_value()) {
    absl::StrAppend(&json, ",\"format\":\"", PickleFormatName(r.pickle->format),
                    "\",\"storages\":", r.pickle->storages.size(), ",\"globals\":", GlobalsJson(*r.pickle));
  }
  if (r.is_checkpoint) {
    json += ",\"shards\":[";
    for (size_t i = 0; i < r.shards.size(); ++i) {
      absl::StrAppend(&json, i ? "," : "", CheckJson(r.shards[i]));
    }
    json += "]";
  }
  return json + "}";
}

// "OK, 3 tensors, 96 bytes", "INVALID [Code; reference: Class]: message" or
// "ERROR: message".
std::string Verdict(const CheckResult& r) {
  if (r.status.ok() && r.pickle.has_value()) {
    return absl::StrCat("OK, ", PickleFormatName(r.pickle->format), ", ", r.tensors, " tensors over ",
                        r.pickle->storages.size(), " storages, ", r.bytes, " bytes (read as data: ",
                        SummarizeGlobals(*r.pickle).size(), " distinct globals, ",
                        r.pickle->skipped.empty() ? "all on the allow-list)" : "some skipped)");
  }
  if (r.status.ok()) {
    return absl::StrCat("OK, ", r.is_checkpoint ? absl::StrCat("checkpoint of ", r.shards.size(), " shards, ") : "",
                        r.tensors, " tensors, ", r.bytes, " bytes");
  }
  if (IsIoError(r.status)) return absl::StrCat("ERROR: ", r.status.message());
  const ErrorCode code = *GetErrorCode(r.status);
  std::string text = absl::StrCat("INVALID [", ErrorCodeName(code));
  if (!ReferenceErrorClass(code).empty()) {
    absl::StrAppend(&text, "; reference: ", ReferenceErrorClass(code));
  }
  return absl::StrCat(text, "]: ", r.status.message());
}

}  // namespace

int Check(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  absl::StatusOr<Args> parsed = ParseArgs(args, {}, {"json", "strict", "verify", "skip-unknown", "help"});
  if (parsed.ok() && parsed->flags.count("help")) {
    out << kCheckUsage;
    return kExitOk;
  }
  if (!parsed.ok() || parsed->positional.empty()) {
    err << "safetensors check: " << (parsed.ok() ? "no FILE given" : parsed.status().message())
        << "\n" << kCheckUsage;
    return kExitUsage;
  }
  const bool json = parsed->flags.count("json") != 0;
  const bool strict = parsed->flags.count("strict") != 0;
  const bool skip_unknown = parsed->flags.count("skip-unknown") != 0;
  const std::string strict_mode = strict ? parsed->flags["strict"] : "";
  if (strict && strict_mode != "" && strict_mode != "warn" && strict_mode != "error") {
    err << "safetensors check: --strict takes warn or error, not " << strict_mode << "\n";
    return kExitUsage;
  }
  // --verify hashes every file first: the one pass that reads them whole
  // leaves the headers for the checks below (a page each) to the page cache
  // or a short read. Its lines follow the checks'.
  std::ostringstream verified;
  const int verify_exit =
      parsed->flags.count("verify") ? VerifyPaths(parsed->positional, json, 0, verified, err)
                                    : kExitOk;
  bool any_invalid = false, any_io = false, any_warning = false;
  for (const std::string& file : parsed->positional) {
    const std::string path = ResolvePath(file);
    CheckResult r;
    if (IsCheckpointPath(path) && IsPickleCheckpointPath(path)) {
      r = CheckPickleCheckpoint(file, path, skip_unknown);
    } else if (IsCheckpointPath(path)) {
      r = CheckCheckpoint(file, path, strict);
    } else if (IsPickleCheckpointFile(path).value_or(false)) {
      r = CheckPickleFile(file, path, skip_unknown);
    } else {
      r = CheckFile(file, path, strict);
      // A file named as torch.save names its output that is no safetensors
      // file either: the torch.save reader's verdict says more about it.
      if (!r.status.ok() && !IsIoError(r.status) && HasPickleCheckpointName(path)) {
        r = CheckPickleFile(file, path, skip_unknown);
      }
    }
    any_io |= IsIoError(r.status);
    any_invalid |= !r.status.ok() && !IsIoError(r.status);
    any_warning |= !r.warnings.empty();
    for (const CheckResult& shard : r.shards) any_warning |= !shard.warnings.empty();
    if (json) {
      out << CheckJson(r) << "\n";
      continue;
    }
    const std::string shown = EscapeText(file);
    out << shown << ": " << Verdict(r) << "\n";
    for (const std::string& w : r.warnings) out << shown << ": warning: " << w << "\n";
    for (const CheckResult& shard : r.shards) {
      const std::string shard_shown = EscapeText(shard.file);
      out << "  shard " << shard_shown << ": " << Verdict(shard) << "\n";
      for (const std::string& w : shard.warnings) {
        out << "  shard " << shard_shown << ": warning: " << w << "\n";
      }
    }
  }
  out << verified.str();
  if (any_io || verify_exit == kExitUsage) return kExitUsage;
  if (any_invalid || (strict_mode == "error" && any_warning) || verify_exit == kExitProblem) {
    return kExitProblem;
  }
  return kExitOk;
}

namespace {

// What inspect shows of a file or a checkpoint.
struct InspectView {
  std::optional<Header> file;             // a single file
  std::optional<Checkpoint> checkpoint;   // or a checkpoint
  struct Row {
    const TensorInfo* tensor;
    const std::string* shard;  // null for a single file
  };
  std::vector<Row> rows;
  // The file's __metadata__ or the index's metadata (numbers as text).
  std::optional<MetadataEntries> metadata;
  // By position in metadata: the value is a JSON number (an index's
  // total_size), shown unquoted.
  std::vector<bool> is_number;
};

absl::StatusOr<InspectView> ReadForInspect(const std::string& path, const TensorFilter& filter) {
  InspectView view;
  if (IsCheckpointPath(path)) {
    SAFETENSORS_ASSIGN_OR_RETURN(Checkpoint checkpoint, Checkpoint::Open(path));
    view.checkpoint.emplace(std::move(checkpoint));
    for (const Checkpoint::Location& l : view.checkpoint->InShardOrder()) {
      if (filter.Selects(l.info->name)) {
        view.rows.push_back({l.info, &view.checkpoint->shards()[l.shard].name});
      }
    }
    if (view.checkpoint->index().has_value()) {
      MetadataEntries entries;
      for (const IndexMetadataEntry& e : view.checkpoint->index()->metadata()) {
        entries.emplace_back(e.key, e.value);
        view.is_number.push_back(e.is_number);
      }
      view.metadata = std::move(entries);
    } else {
      view.metadata = view.checkpoint->shards()[0].header.metadata();
    }
    return view;
  }
  SAFETENSORS_ASSIGN_OR_RETURN(Header header, ReadHeaderFile(path));
  view.file.emplace(std::move(header));
  for (const TensorInfo& t : view.file->tensors()) {
    if (filter.Selects(t.name)) view.rows.push_back({&t, nullptr});
  }
  view.metadata = view.file->metadata();
  return view;
}

bool IsNumber(const InspectView& view, size_t i) {
  return i < view.is_number.size() && view.is_number[i];
}

// A number's text is the index's own JSON number text, validated by its
// parser: it goes out as it came in.
std::string MetadataJson(const InspectView& view) {
  if (!view.metadata.has_value()) return "null";
  std::string json = "{";
  for (size_t i = 0; i < view.metadata->size(); ++i) {
    const auto& [key, value] = (*view.metadata)[i];
    absl::StrAppend(&json, i ? "," : "", JsonStringForTerminal(key), ":",
                    IsNumber(view, i) ? value : JsonStringForTerminal(value));
  }
  return json + "}";
}

}  // namespace

int Inspect(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  absl::StatusOr<Args> parsed = ParseArgs(args, {"filter"}, {"json", "skip-unknown", "help"});
  if (parsed.ok() && parsed->flags.count("help")) {
    out << kInspectUsage;
    return kExitOk;
  }
  if (!parsed.ok() || parsed->positional.size() != 1) {
    err << "safetensors inspect: "
        << (parsed.ok() ? "expected one FILE" : parsed.status().message()) << "\n"
        << kInspectUsage;
    return kExitUsage;
  }
  const std::string& file = parsed->positional[0];
  absl::StatusOr<TensorFilter> filter = TensorFilter::Compile(parsed->flags["filter"]);
  if (!filter.ok()) return ReportError(file, filter.status(), err);
  const std::string path = ResolvePath(file);
  if ((IsCheckpointPath(path) && IsPickleCheckpointPath(path)) ||
      (!IsCheckpointPath(path) && (IsPickleCheckpointFile(path).value_or(false) ||
       (HasPickleCheckpointName(path) && IsPickleCheckpointFile(path).ok() && !ReadHeaderFile(path).ok())))) {
    return InspectPickle(file, path, parsed->flags.count("json") != 0, parsed->flags.count("skip-unknown") != 0,
                         *filter, out, err);
  }
  absl::StatusOr<InspectView> read = ReadForInspect(path, *filter);
  if (!read.ok()) return ReportError(file, read.status(), err);
  const InspectView& view = *read;
  const bool sharded = view.checkpoint.has_value();

  uint64_t parameters = 0, bytes = 0;
  std::map<std::string, std::pair<uint64_t, uint64_t>> by_dtype;  // bytes, count
  for (const InspectView::Row& row : view.rows) {
    const TensorInfo* t = row.tensor;
    parameters += t->num_elements();
    bytes += t->num_bytes();
    auto& entry = by_dtype[std::string(DtypeName(t->dtype))];
    entry.first += t->num_bytes();
    entry.second += 1;
  }
  if (parsed->flags.count("json")) {
    std::string json;
    if (sharded) {
      json = absl::StrCat("{\"checkpoint\":", JsonStringForTerminal(file), ",\"index\":",
                          view.checkpoint->index_path().empty()
                              ? "null"
                              : JsonStringForTerminal(view.checkpoint->index_path()),
                          ",\"metadata\":", MetadataJson(view), ",\"shards\":[");
      for (size_t i = 0; i < view.checkpoint->shards().size(); ++i) {
        const CheckpointShard& shard = view.checkpoint->shards()[i];
        absl::StrAppend(&json, i ? "," : "", "{\"file\":", JsonStringForTerminal(shard.name),
                        ",\"file_size\":", shard.header.file_size(),
                        ",\"header_size\":", shard.header.header_size(),
                        ",\"tensors\":", shard.header.tensors().size(), "}");
      }
      json += "]";
    } else {
      json = absl::StrCat("{\"file\":", JsonStringForTerminal(file),
                          ",\"file_size\":", view.file->file_size(),
                          ",\"header_size\":", view.file->header_size(),
                          ",\"metadata\":", MetadataJson(view));
    }
    json += ",\"tensors\":[";
    for (size_t i = 0; i < view.rows.size(); ++i) {
      const TensorInfo& t = *view.rows[i].tensor;
      absl::StrAppend(&json, i ? "," : "", "{\"name\":", JsonStringForTerminal(t.name),
                      ",\"dtype\":\"", DtypeName(t.dtype), "\",\"shape\":", ShapeJson(t.shape),
                      ",\"bytes\":", t.num_bytes(), ",\"offset\":", t.data_begin,
                      sharded ? absl::StrCat(",\"shard\":", JsonStringForTerminal(*view.rows[i].shard))
                              : "",
                      "}");
    }
    absl::StrAppend(&json, "],\"totals\":{\"tensors\":", view.rows.size(),
                    ",\"parameters\":", parameters, ",\"bytes\":", bytes, ",\"bytes_by_dtype\":{");
    bool first = true;
    for (const auto& [dtype, entry] : by_dtype) {
      absl::StrAppend(&json, first ? "" : ",", "\"", dtype, "\":", entry.first);
      first = false;
    }
    out << json << "}}}\n";
    return kExitOk;
  }
  if (sharded) {
    const Checkpoint& c = *view.checkpoint;
    out << "checkpoint: " << EscapeText(file) << " ("
        << (c.index_path().empty() ? "no index" : "index " + EscapeText(c.index_path())) << "; "
        << c.shards().size() << " shards, " << c.tensor_bytes() << " bytes of tensors)\n";
  } else {
    const Header& header = *view.file;
    out << "file: " << EscapeText(file) << " (" << header.file_size() << " bytes; header "
        << header.header_size() << " bytes, data from byte " << header.data_offset() << ")\n";
  }
  if (view.metadata.has_value()) {
    out << "metadata:\n";
    for (size_t i = 0; i < view.metadata->size(); ++i) {
      const auto& [key, value] = (*view.metadata)[i];
      out << "  " << QuoteForMessage(key) << ": "
          << (IsNumber(view, i) ? value : QuoteForMessage(value)) << "\n";
    }
  } else {
    out << "metadata: none\n";
  }
  if (sharded) {
    out << "shards:\n";
    for (const CheckpointShard& shard : view.checkpoint->shards()) {
      out << absl::StrFormat("  %-40s  %8d tensors  %14d bytes\n", EscapeText(shard.name),
                             shard.header.tensors().size(), shard.header.file_size());
    }
  }
  // Names are file-controlled: escaped, so that no name can move the cursor,
  // recolour the terminal or hide another row.
  std::vector<std::string> names, shards;
  for (const InspectView::Row& row : view.rows) {
    names.push_back(EscapeText(row.tensor->name));
    if (sharded) shards.push_back(EscapeText(*row.shard));
  }
  size_t name_width = 4, shape_width = 5;
  for (size_t i = 0; i < view.rows.size(); ++i) {
    name_width = std::max(name_width, std::min<size_t>(names[i].size(), 60));
    shape_width = std::max(shape_width, ShapeText(view.rows[i].tensor->shape).size());
  }
  out << absl::StrFormat("%-*s  %-11s  %-*s  %14s  %14s%s\n", static_cast<int>(name_width), "NAME",
                         "DTYPE", static_cast<int>(shape_width), "SHAPE", "BYTES", "OFFSET",
                         sharded ? "  SHARD" : "");
  for (size_t i = 0; i < view.rows.size(); ++i) {
    const TensorInfo* t = view.rows[i].tensor;
    out << absl::StrFormat("%-*s  %-11s  %-*s  %14d  %14d%s\n", static_cast<int>(name_width),
                           names[i], DtypeName(t->dtype), static_cast<int>(shape_width),
                           ShapeText(t->shape), t->num_bytes(), t->data_begin,
                           sharded ? "  " + shards[i] : "");
  }
  out << "total: " << view.rows.size() << " tensors, " << parameters << " parameters, " << bytes
      << " bytes\n";
  for (const auto& [dtype, entry] : by_dtype) {
    out << "  " << dtype << ": " << entry.second << " tensors, " << entry.first << " bytes\n";
  }
  return kExitOk;
}

}  // namespace cli
}  // namespace safetensors

#include "tools/scan_commands.h"

#include <algorithm>
#include <map>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "io/header_file.h"
#include "io/tensor_filter.h"
#include "parser/dtype.h"
#include "parser/error.h"
#include "parser/header.h"
#include "parser/json_string.h"
#include "parser/lint.h"
#include "tools/cli_util.h"

namespace safetensors {
namespace cli {

using internal::TensorFilter;

constexpr char kCheckUsage[] = R"(usage: safetensors check [--json] [--strict[=warn|error]] FILE...

Validates each file's header and layout exactly as the reference
implementation does, plus this project's stricter rules, reading only the
header. --json prints one object per file per line: file, ok, code,
reference_class, message, tensors, bytes, warnings. --strict (=warn) also
reports hygiene issues the format tolerates: a header not padded to 8 bytes,
unknown fields, tensors not in the canonical writer's order, data misaligned
for its dtype; --strict=error fails on them.
exit: 0 all valid, 1 any invalid (or warnings with --strict=error), 2 usage/I-O.
)";

constexpr char kInspectUsage[] = R"(usage: safetensors inspect [--json] [--filter REGEX] FILE

Prints the metadata, a table of tensors (name, dtype, shape, size, offset) and
totals (count, parameters, bytes by dtype). Reads only the header, so a
multi-gigabyte file takes no longer than a small one. --filter keeps tensors
whose name the RE2 pattern matches (anywhere; anchor with ^ and $).
)";

namespace {

struct CheckResult {
  std::string file;
  absl::Status status;
  uint64_t tensors = 0;
  uint64_t bytes = 0;
  std::vector<std::string> warnings;
};

CheckResult CheckFile(const std::string& path, bool strict) {
  CheckResult result;
  result.file = path;
  absl::StatusOr<Header> header = ReadHeaderFile(ResolvePath(path));
  result.status = header.status();
  if (!header.ok()) return result;
  result.tensors = header->tensors().size();
  result.bytes = header->file_size();
  if (strict) result.warnings = HygieneWarnings(*header);
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
  return json + "]}";
}

}  // namespace

int Check(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  absl::StatusOr<Args> parsed = ParseArgs(args, {}, {"json", "strict", "help"});
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
  const std::string strict_mode = strict ? parsed->flags["strict"] : "";
  if (strict && strict_mode != "" && strict_mode != "warn" && strict_mode != "error") {
    err << "safetensors check: --strict takes warn or error, not " << strict_mode << "\n";
    return kExitUsage;
  }
  bool any_invalid = false, any_io = false, any_warning = false;
  for (const std::string& file : parsed->positional) {
    const CheckResult r = CheckFile(file, strict);
    any_io |= IsIoError(r.status);
    any_invalid |= !r.status.ok() && !IsIoError(r.status);
    any_warning |= !r.warnings.empty();
    if (json) {
      out << CheckJson(r) << "\n";
      continue;
    }
    const std::string shown = EscapeText(file);
    if (r.status.ok()) {
      out << shown << ": OK, " << r.tensors << " tensors, " << r.bytes << " bytes\n";
    } else if (IsIoError(r.status)) {
      out << shown << ": ERROR: " << r.status.message() << "\n";
    } else {
      const ErrorCode code = *GetErrorCode(r.status);
      out << shown << ": INVALID [" << ErrorCodeName(code);
      if (!ReferenceErrorClass(code).empty()) out << "; reference: " << ReferenceErrorClass(code);
      out << "]: " << r.status.message() << "\n";
    }
    for (const std::string& w : r.warnings) out << shown << ": warning: " << w << "\n";
  }
  if (any_io) return kExitUsage;
  if (any_invalid || (strict_mode == "error" && any_warning)) return kExitProblem;
  return kExitOk;
}


int Inspect(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  absl::StatusOr<Args> parsed = ParseArgs(args, {"filter"}, {"json", "help"});
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
  absl::StatusOr<Header> read = ReadHeaderFile(ResolvePath(file));
  if (!read.ok()) return ReportError(file, read.status(), err);
  const Header& header = *read;
  std::vector<const TensorInfo*> tensors;
  for (const TensorInfo& t : header.tensors()) {
    if (filter->Selects(t.name)) tensors.push_back(&t);
  }

  uint64_t parameters = 0, bytes = 0;
  std::map<std::string, std::pair<uint64_t, uint64_t>> by_dtype;  // bytes, count
  for (const TensorInfo* t : tensors) {
    parameters += t->num_elements();
    bytes += t->num_bytes();
    auto& entry = by_dtype[std::string(DtypeName(t->dtype))];
    entry.first += t->num_bytes();
    entry.second += 1;
  }
  if (parsed->flags.count("json")) {
    std::string json = absl::StrCat("{\"file\":", JsonStringForTerminal(file),
                                    ",\"file_size\":", header.file_size(),
                                    ",\"header_size\":", header.header_size(), ",\"metadata\":");
    if (!header.metadata().has_value()) {
      json += "null";
    } else {
      json += "{";
      for (size_t i = 0; i < header.metadata()->size(); ++i) {
        const auto& [key, value] = (*header.metadata())[i];
        absl::StrAppend(&json, i ? "," : "", JsonStringForTerminal(key), ":", JsonStringForTerminal(value));
      }
      json += "}";
    }
    json += ",\"tensors\":[";
    for (size_t i = 0; i < tensors.size(); ++i) {
      const TensorInfo& t = *tensors[i];
      absl::StrAppend(&json, i ? "," : "", "{\"name\":", JsonStringForTerminal(t.name), ",\"dtype\":\"",
                      DtypeName(t.dtype), "\",\"shape\":", ShapeJson(t.shape),
                      ",\"bytes\":", t.num_bytes(), ",\"offset\":", t.data_begin, "}");
    }
    absl::StrAppend(&json, "],\"totals\":{\"tensors\":", tensors.size(),
                    ",\"parameters\":", parameters, ",\"bytes\":", bytes, ",\"bytes_by_dtype\":{");
    bool first = true;
    for (const auto& [dtype, entry] : by_dtype) {
      absl::StrAppend(&json, first ? "" : ",", "\"", dtype, "\":", entry.first);
      first = false;
    }
    out << json << "}}}\n";
    return kExitOk;
  }
  out << "file: " << EscapeText(file) << " (" << header.file_size() << " bytes; header " << header.header_size()
      << " bytes, data from byte " << header.data_offset() << ")\n";
  if (header.metadata().has_value()) {
    out << "metadata:\n";
    for (const auto& [key, value] : *header.metadata()) {
      out << "  " << QuoteForMessage(key) << ": " << QuoteForMessage(value) << "\n";
    }
  } else {
    out << "metadata: none\n";
  }
  // Names are file-controlled: escaped, so that no name can move the cursor,
  // recolour the terminal or hide another row.
  std::vector<std::string> names;
  names.reserve(tensors.size());
  for (const TensorInfo* t : tensors) names.push_back(EscapeText(t->name));
  size_t name_width = 4, shape_width = 5;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const TensorInfo* t = tensors[i];
    name_width = std::max(name_width, std::min<size_t>(names[i].size(), 60));
    shape_width = std::max(shape_width, ShapeText(t->shape).size());
  }
  out << absl::StrFormat("%-*s  %-11s  %-*s  %14s  %14s\n", static_cast<int>(name_width), "NAME",
                         "DTYPE", static_cast<int>(shape_width), "SHAPE", "BYTES", "OFFSET");
  for (size_t i = 0; i < tensors.size(); ++i) {
    const TensorInfo* t = tensors[i];
    out << absl::StrFormat("%-*s  %-11s  %-*s  %14d  %14d\n", static_cast<int>(name_width),
                           names[i], DtypeName(t->dtype),
                           static_cast<int>(shape_width), ShapeText(t->shape), t->num_bytes(),
                           t->data_begin);
  }
  out << "total: " << tensors.size() << " tensors, " << parameters << " parameters, " << bytes
      << " bytes\n";
  for (const auto& [dtype, entry] : by_dtype) {
    out << "  " << dtype << ": " << entry.second << " tensors, " << entry.first << " bytes\n";
  }
  return kExitOk;
}

}  // namespace cli
}  // namespace safetensors

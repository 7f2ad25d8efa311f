#include "tools/cli.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <map>
#include <optional>
#include <set>

#include <ATen/core/Tensor.h>
#include <ATen/ops/view_as_real.h>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "parser/dtype.h"
#include "parser/error.h"
#include "parser/header.h"
#include "parser/json_string.h"
#include "torch_io/safetensors.h"
#include "torch_io/torch_errors.h"

namespace safetensors {
namespace cli {
namespace {

constexpr char kUsage[] = R"(usage: safetensors COMMAND [ARGS]

Validate and look into safetensors files. Untrusted files are safe: every
command validates the whole header before anything else.

commands:
  check FILE...              validate files without loading tensors
  inspect FILE               metadata and a table of tensors (reads the header only)
  dump FILE NAME             a tensor's values and statistics
  diff A B                   compare two files' tensors
exit codes: 0 fine, 1 invalid/different/not found, 2 usage or I/O error.
`safetensors COMMAND --help` describes each command.
)";

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

constexpr char kDumpUsage[] = R"(usage: safetensors dump [--limit N] FILE NAME

Prints tensor NAME's first N values (default 10) in row-major order, with
min, max and mean (over finite values) and NaN/Inf counts.
)";

constexpr char kDiffUsage[] = R"(usage: safetensors diff A B

Lists tensors only in A, only in B, with different dtype or shape, and for
equal layouts the largest absolute difference; also metadata differences.
exit: 0 identical, 1 different, 2 usage/I-O.
)";

std::string ResolvePath(const std::string& path) {
  const char* base = std::getenv("BUILD_WORKING_DIRECTORY");
  if (base == nullptr || path.empty() || path[0] == '/') return path;
  return absl::StrCat(base, "/", path);
}

std::string ShapeText(absl::Span<const uint64_t> shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ", "), "]");
}

std::string ShapeJson(absl::Span<const uint64_t> shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ","), "]");
}

bool IsIoError(const absl::Status& status) {
  return GetErrorCode(status) == ErrorCode::kIoError;
}

// The exit code and stderr line for a failure opening `path`.
int ReportOpenError(const std::string& path, const absl::Status& status, std::ostream& err) {
  err << "safetensors: " << path << ": " << status.message();
  if (std::optional<ErrorCode> code = GetErrorCode(status); code && !IsIoError(status)) {
    err << " [" << ErrorCodeName(*code) << "]";
  }
  err << "\n";
  return IsIoError(status) ? kExitUsage : kExitProblem;
}

absl::StatusOr<SafeOpen> OpenHeaderOnly(const std::string& path, const std::string& filter = "") {
  LoadOptions options;
  options.backend = Backend::kPread;  // reads nothing until asked
  options.tensor_filter = filter;
  return safe_open(path, "cpu", options);
}

// Flags of the form --name or --name=value, then positional arguments.
struct Args {
  std::map<std::string, std::string> flags;
  std::vector<std::string> positional;
};

absl::StatusOr<Args> ParseArgs(const std::vector<std::string>& args,
                               const std::set<std::string>& valued,
                               const std::set<std::string>& switches) {
  Args parsed;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") {
      parsed.positional.insert(parsed.positional.end(), args.begin() + static_cast<long>(i) + 1,
                               args.end());
      break;
    }
    if (!absl::StartsWith(arg, "--")) {
      parsed.positional.push_back(arg);
      continue;
    }
    const size_t eq = arg.find('=');
    const std::string name = arg.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
    if (switches.count(name) != 0) {
      parsed.flags[name] = eq == std::string::npos ? "" : arg.substr(eq + 1);
    } else if (valued.count(name) != 0) {
      if (eq != std::string::npos) {
        parsed.flags[name] = arg.substr(eq + 1);
      } else if (i + 1 < args.size()) {
        parsed.flags[name] = args[++i];
      } else {
        return absl::InvalidArgumentError(absl::StrCat("--", name, " needs a value"));
      }
    } else {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag ", arg));
    }
  }
  return parsed;
}

// --- check ----------------------------------------------------------------

struct CheckResult {
  std::string file;
  absl::Status status;
  uint64_t tensors = 0;
  uint64_t bytes = 0;
  std::vector<std::string> warnings;
};

std::vector<std::string> HygieneWarnings(const Header& header) {
  std::vector<std::string> warnings;
  if (header.data_offset() % 8 != 0) {
    warnings.push_back(absl::StrCat("header is not padded to a multiple of 8 bytes: the data "
                                    "buffer starts at byte ",
                                    header.data_offset()));
  }
  constexpr size_t kMaxListed = 10;
  const auto& ignored = header.ignored_fields();
  for (size_t i = 0; i < ignored.size() && i < kMaxListed; ++i) {
    warnings.push_back(absl::StrCat("tensor ", QuoteForMessage(ignored[i].first),
                                    " has unknown field ", QuoteForMessage(ignored[i].second)));
  }
  if (ignored.size() > kMaxListed) {
    warnings.push_back(absl::StrCat("... and ", ignored.size() - kMaxListed, " more unknown fields"));
  }
  std::vector<const TensorInfo*> canonical;
  for (const TensorInfo& t : header.tensors()) canonical.push_back(&t);
  std::stable_sort(canonical.begin(), canonical.end(), [](const TensorInfo* a, const TensorInfo* b) {
    if (a->dtype != b->dtype) return a->dtype > b->dtype;
    return a->name < b->name;
  });
  for (size_t i = 0; i < canonical.size(); ++i) {
    if (canonical[i] != &header.tensors()[i]) {
      warnings.push_back(absl::StrCat(
          "tensors are not in the canonical writer's order (descending dtype alignment, then "
          "name): ",
          QuoteForMessage(header.tensors()[i].name), " is at position ", i, " instead of ",
          QuoteForMessage(canonical[i]->name)));
      break;
    }
  }
  size_t misaligned = 0;
  for (const TensorInfo& t : header.tensors()) {
    const uint64_t start = header.data_offset() + t.data_begin;
    if (t.num_bytes() == 0 || start % DtypeAlignment(t.dtype) == 0) continue;
    if (++misaligned <= kMaxListed) {
      warnings.push_back(absl::StrCat("tensor ", QuoteForMessage(t.name), " (",
                                      DtypeName(t.dtype), ") starts at byte ", start,
                                      ", not a multiple of ", DtypeAlignment(t.dtype)));
    }
  }
  if (misaligned > kMaxListed) {
    warnings.push_back(absl::StrCat("... and ", misaligned - kMaxListed, " more misaligned tensors"));
  }
  return warnings;
}

CheckResult CheckFile(const std::string& path, bool strict) {
  CheckResult result;
  result.file = path;
  absl::StatusOr<SafeOpen> f = OpenHeaderOnly(ResolvePath(path));
  result.status = f.status();
  if (!f.ok()) return result;
  result.tensors = f->header().tensors().size();
  result.bytes = f->header().file_size();
  if (strict) result.warnings = HygieneWarnings(f->header());
  return result;
}

std::string CheckJson(const CheckResult& r) {
  std::string json = absl::StrCat("{\"file\":", JsonString(r.file),
                                  ",\"ok\":", r.status.ok() ? "true" : "false");
  const std::optional<ErrorCode> code = GetErrorCode(r.status);
  if (r.status.ok() || !code.has_value()) {
    absl::StrAppend(&json, ",\"code\":null,\"reference_class\":null");
  } else {
    const absl::string_view reference = ReferenceErrorClass(*code);
    absl::StrAppend(&json, ",\"code\":", JsonString(ErrorCodeName(*code)),
                    ",\"reference_class\":", reference.empty() ? "null" : JsonString(reference));
  }
  absl::StrAppend(&json, ",\"message\":",
                  r.status.ok() ? "null" : JsonString(r.status.message()),
                  ",\"tensors\":", r.tensors, ",\"bytes\":", r.bytes, ",\"warnings\":[");
  for (size_t i = 0; i < r.warnings.size(); ++i) {
    absl::StrAppend(&json, i ? "," : "", JsonString(r.warnings[i]));
  }
  return json + "]}";
}

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
    if (r.status.ok()) {
      out << file << ": OK, " << r.tensors << " tensors, " << r.bytes << " bytes\n";
    } else if (IsIoError(r.status)) {
      out << file << ": ERROR: " << r.status.message() << "\n";
    } else {
      const ErrorCode code = *GetErrorCode(r.status);
      out << file << ": INVALID [" << ErrorCodeName(code);
      if (!ReferenceErrorClass(code).empty()) out << "; reference: " << ReferenceErrorClass(code);
      out << "]: " << r.status.message() << "\n";
    }
    for (const std::string& w : r.warnings) out << file << ": warning: " << w << "\n";
  }
  if (any_io) return kExitUsage;
  if (any_invalid || (strict_mode == "error" && any_warning)) return kExitProblem;
  return kExitOk;
}

// --- inspect --------------------------------------------------------------

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
  absl::StatusOr<SafeOpen> f = OpenHeaderOnly(ResolvePath(file), parsed->flags["filter"]);
  if (!f.ok()) return ReportOpenError(file, f.status(), err);
  const Header& header = f->header();
  std::vector<const TensorInfo*> tensors;
  for (const std::string& name : f->offset_keys()) tensors.push_back(header.Find(name));

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
    std::string json = absl::StrCat("{\"file\":", JsonString(file),
                                    ",\"file_size\":", header.file_size(),
                                    ",\"header_size\":", header.header_size(), ",\"metadata\":");
    if (!header.metadata().has_value()) {
      json += "null";
    } else {
      json += "{";
      for (size_t i = 0; i < header.metadata()->size(); ++i) {
        const auto& [key, value] = (*header.metadata())[i];
        absl::StrAppend(&json, i ? "," : "", JsonString(key), ":", JsonString(value));
      }
      json += "}";
    }
    json += ",\"tensors\":[";
    for (size_t i = 0; i < tensors.size(); ++i) {
      const TensorInfo& t = *tensors[i];
      absl::StrAppend(&json, i ? "," : "", "{\"name\":", JsonString(t.name), ",\"dtype\":\"",
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
  out << "file: " << file << " (" << header.file_size() << " bytes; header " << header.header_size()
      << " bytes, data from byte " << header.data_offset() << ")\n";
  if (header.metadata().has_value()) {
    out << "metadata:\n";
    for (const auto& [key, value] : *header.metadata()) {
      out << "  " << QuoteForMessage(key) << ": " << QuoteForMessage(value) << "\n";
    }
  } else {
    out << "metadata: none\n";
  }
  size_t name_width = 4, shape_width = 5;
  for (const TensorInfo* t : tensors) {
    name_width = std::max(name_width, std::min<size_t>(t->name.size(), 60));
    shape_width = std::max(shape_width, ShapeText(t->shape).size());
  }
  out << absl::StrFormat("%-*s  %-11s  %-*s  %14s  %14s\n", static_cast<int>(name_width), "NAME",
                         "DTYPE", static_cast<int>(shape_width), "SHAPE", "BYTES", "OFFSET");
  for (const TensorInfo* t : tensors) {
    out << absl::StrFormat("%-*s  %-11s  %-*s  %14d  %14d\n", static_cast<int>(name_width),
                           std::string(t->name), DtypeName(t->dtype),
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

// --- dump and diff: tensor values -------------------------------------------

// A tensor's values as doubles (complex: interleaved real, imaginary), or
// nullopt for dtypes LibTorch cannot convert (float4).
std::optional<std::vector<double>> AsDoubles(const at::Tensor& tensor) {
  absl::StatusOr<at::Tensor> converted = CallTorch("converting to double", [&] {
    at::Tensor t = tensor.is_complex() ? at::view_as_real(tensor) : tensor;
    return t.to(at::kDouble).contiguous().reshape({-1});
  });
  if (!converted.ok()) return std::nullopt;
  const double* p = converted->data_ptr<double>();
  return std::vector<double>(p, p + converted->numel());
}

std::string HexBytes(const at::Tensor& t, size_t limit) {
  const uint8_t* p = static_cast<const uint8_t*>(t.data_ptr());
  std::string out;
  for (size_t i = 0; i < std::min<size_t>(t.nbytes(), limit); ++i) {
    absl::StrAppend(&out, i ? " " : "", absl::Hex(p[i], absl::kZeroPad2));
  }
  return out;
}

int Dump(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  absl::StatusOr<Args> parsed = ParseArgs(args, {"limit"}, {"help"});
  if (parsed.ok() && parsed->flags.count("help")) {
    out << kDumpUsage;
    return kExitOk;
  }
  int64_t limit = 10;
  if (!parsed.ok() || parsed->positional.size() != 2 ||
      (parsed->flags.count("limit") && (!absl::SimpleAtoi(parsed->flags["limit"], &limit) || limit < 0))) {
    err << "safetensors dump: "
        << (parsed.ok() ? "expected FILE NAME and --limit N >= 0" : parsed.status().message())
        << "\n" << kDumpUsage;
    return kExitUsage;
  }
  const std::string& file = parsed->positional[0];
  const std::string& name = parsed->positional[1];
  absl::StatusOr<SafeOpen> f = safe_open(ResolvePath(file));
  if (!f.ok()) return ReportOpenError(file, f.status(), err);
  absl::StatusOr<at::Tensor> tensor = f->get_tensor(name);
  if (!tensor.ok()) return ReportOpenError(file, tensor.status(), err);
  const TensorInfo& info = *f->header().Find(name);
  out << "tensor: " << QuoteForMessage(name) << "\ndtype: " << DtypeName(info.dtype)
      << "\nshape: " << ShapeText(info.shape) << "\nelements: " << info.num_elements()
      << "\nbytes: " << info.num_bytes() << "\n";
  const std::optional<std::vector<double>> values = AsDoubles(*tensor);
  if (!values.has_value()) {
    out << "values: not convertible to numbers in this LibTorch; first bytes: "
        << HexBytes(*tensor, static_cast<size_t>(std::min<int64_t>(limit, 64))) << "\n";
    return kExitOk;
  }
  const bool complex = tensor->is_complex();
  const size_t shown = std::min<size_t>(static_cast<size_t>(limit) * (complex ? 2 : 1), values->size());
  std::vector<std::string> texts;
  for (size_t i = 0; i < shown; i += complex ? 2 : 1) {
    texts.push_back(complex ? absl::StrFormat("(%g%+gj)", (*values)[i], (*values)[i + 1])
                            : absl::StrFormat("%.8g", (*values)[i]));
  }
  out << "values" << (shown < values->size() ? absl::StrCat(" (first ", texts.size(), ")") : "")
      << ": [" << absl::StrJoin(texts, ", ") << "]\n";
  uint64_t nan = 0, inf = 0, finite = 0;
  double min = std::numeric_limits<double>::infinity(), max = -min, sum = 0;
  for (double v : *values) {
    if (std::isnan(v)) {
      ++nan;
    } else if (std::isinf(v)) {
      ++inf;
    } else {
      ++finite;
      min = std::min(min, v);
      max = std::max(max, v);
      sum += v;
    }
  }
  if (finite > 0) {
    out << absl::StrFormat("min: %.8g\nmax: %.8g\nmean: %.8g\n", min, max, sum / static_cast<double>(finite));
  } else {
    out << "min: -\nmax: -\nmean: -\n";
  }
  out << "nan: " << nan << "\ninf: " << inf << "\n";
  return kExitOk;
}

int Diff(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  absl::StatusOr<Args> parsed = ParseArgs(args, {}, {"help"});
  if (parsed.ok() && parsed->flags.count("help")) {
    out << kDiffUsage;
    return kExitOk;
  }
  if (!parsed.ok() || parsed->positional.size() != 2) {
    err << "safetensors diff: " << (parsed.ok() ? "expected A B" : parsed.status().message())
        << "\n" << kDiffUsage;
    return kExitUsage;
  }
  const std::string& a_path = parsed->positional[0];
  const std::string& b_path = parsed->positional[1];
  absl::StatusOr<SafeOpen> a = safe_open(ResolvePath(a_path));
  if (!a.ok()) return ReportOpenError(a_path, a.status(), err);
  absl::StatusOr<SafeOpen> b = safe_open(ResolvePath(b_path));
  if (!b.ok()) return ReportOpenError(b_path, b.status(), err);
  bool different = false;
  for (const std::string& name : a->keys()) {
    if (b->header().Find(name) == nullptr) {
      out << "only in A: " << QuoteForMessage(name) << "\n";
      different = true;
    }
  }
  for (const std::string& name : b->keys()) {
    if (a->header().Find(name) == nullptr) {
      out << "only in B: " << QuoteForMessage(name) << "\n";
      different = true;
    }
  }
  for (const std::string& name : a->keys()) {
    const TensorInfo* ta = a->header().Find(name);
    const TensorInfo* tb = b->header().Find(name);
    if (tb == nullptr) continue;
    if (ta->dtype != tb->dtype || ta->shape != tb->shape) {
      out << "layout differs: " << QuoteForMessage(name) << ": " << DtypeName(ta->dtype)
          << ShapeText(ta->shape) << " vs " << DtypeName(tb->dtype) << ShapeText(tb->shape) << "\n";
      different = true;
      continue;
    }
    absl::StatusOr<at::Tensor> va = a->get_tensor(name), vb = b->get_tensor(name);
    if (!va.ok()) return ReportOpenError(a_path, va.status(), err);
    if (!vb.ok()) return ReportOpenError(b_path, vb.status(), err);
    if (va->nbytes() == 0 || std::memcmp(va->data_ptr(), vb->data_ptr(), va->nbytes()) == 0) continue;
    different = true;
    const auto da = AsDoubles(*va), db = AsDoubles(*vb);
    if (!da.has_value() || !db.has_value()) {
      out << "values differ: " << QuoteForMessage(name) << " (bytes differ)\n";
      continue;
    }
    double max_diff = 0;
    for (size_t i = 0; i < da->size(); ++i) {
      const double x = (*da)[i], y = (*db)[i];
      if (std::isnan(x) && std::isnan(y)) continue;
      const double d = std::fabs(x - y);
      max_diff = std::isnan(d) ? d : std::max(max_diff, d);
      if (std::isnan(d)) break;
    }
    out << "values differ: " << QuoteForMessage(name) << ": max abs difference "
        << absl::StrFormat("%g", max_diff) << "\n";
  }
  if (a->metadata() != b->metadata()) {
    out << "metadata differs\n";
    different = true;
  }
  if (!different) out << "identical: " << a->keys().size() << " tensors\n";
  return different ? kExitProblem : kExitOk;
}

}  // namespace

int Run(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  if (args.empty()) {
    err << kUsage;
    return kExitUsage;
  }
  const std::string& command = args[0];
  const std::vector<std::string> rest(args.begin() + 1, args.end());
  if (command == "--help" || command == "-h" || command == "help") {
    out << kUsage;
    return kExitOk;
  }
  if (command == "check") return Check(rest, out, err);
  if (command == "inspect") return Inspect(rest, out, err);
  if (command == "dump") return Dump(rest, out, err);
  if (command == "diff") return Diff(rest, out, err);
  err << "safetensors: unknown command " << QuoteForMessage(command) << "\n" << kUsage;
  return kExitUsage;
}

}  // namespace cli
}  // namespace safetensors

#include "tools/value_commands.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <optional>

#include <ATen/core/Tensor.h>
#include <ATen/ops/view_as_real.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "parser/dtype.h"
#include "parser/error.h"
#include "tools/cli_util.h"
#include "tools/progress_bar.h"
#include "torch_io/checkpoint.h"
#include "torch_io/torch_errors.h"

namespace safetensors {
namespace cli {

constexpr char kDumpUsage[] = R"(usage: safetensors dump [--limit N] FILE NAME

FILE is a .safetensors file or a checkpoint (a directory or an index).
Prints tensor NAME's first N values (default 10) in row-major order, with
min, max and mean (over finite values) and NaN/Inf counts.
)";

constexpr char kDiffUsage[] = R"(usage: safetensors diff A B

A and B are .safetensors files or checkpoints (directories or indexes),
sharded or not, compared tensor by tensor wherever each tensor lives.
Lists tensors only in A, only in B, with different dtype or shape, and for
equal layouts the largest absolute difference; also metadata differences.
exit: 0 identical, 1 different, 2 usage/I-O.
)";

namespace {

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

}  // namespace

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
  absl::StatusOr<CheckpointReader> f = open_checkpoint(ResolvePath(file));
  if (!f.ok()) return ReportError(file, f.status(), err);
  absl::StatusOr<at::Tensor> tensor = f->get_tensor(name);
  if (!tensor.ok()) return ReportError(file, tensor.status(), err);
  const TensorInfo& info = *f->checkpoint().Find(name)->info;
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
  absl::StatusOr<CheckpointReader> a = open_checkpoint(ResolvePath(a_path));
  if (!a.ok()) return ReportError(a_path, a.status(), err);
  absl::StatusOr<CheckpointReader> b = open_checkpoint(ResolvePath(b_path));
  if (!b.ok()) return ReportError(b_path, b.status(), err);
  bool different = false;
  auto find = [](const CheckpointReader& f, const std::string& name) -> const TensorInfo* {
    std::optional<Checkpoint::Location> where = f.checkpoint().Find(name);
    return where.has_value() ? where->info : nullptr;
  };
  for (const std::string& name : a->keys()) {
    if (find(*b, name) == nullptr) {
      out << "only in A: " << QuoteForMessage(name) << "\n";
      different = true;
    }
  }
  for (const std::string& name : b->keys()) {
    if (find(*a, name) == nullptr) {
      out << "only in B: " << QuoteForMessage(name) << "\n";
      different = true;
    }
  }
  // Comparing values reads both checkpoints whole: a progress line on a
  // terminal, erased before each finding is printed.
  uint64_t total = 0, done = 0;
  for (const std::string& name : a->keys()) {
    const TensorInfo* tb = find(*b, name);
    if (tb != nullptr) total += find(*a, name)->num_bytes() + tb->num_bytes();
  }
  ProgressBar bar("diff", err, ProgressBar::StderrIsTerminal());
  for (const std::string& name : a->keys()) {
    const TensorInfo* ta = find(*a, name);
    const TensorInfo* tb = find(*b, name);
    if (tb == nullptr) continue;
    bar.Update(done, total);
    done += ta->num_bytes() + tb->num_bytes();
    if (ta->dtype != tb->dtype || ta->shape != tb->shape) {
      bar.Finish();
      out << "layout differs: " << QuoteForMessage(name) << ": " << DtypeName(ta->dtype)
          << ShapeText(ta->shape) << " vs " << DtypeName(tb->dtype) << ShapeText(tb->shape) << "\n";
      different = true;
      continue;
    }
    absl::StatusOr<at::Tensor> va = a->get_tensor(name), vb = b->get_tensor(name);
    if (!va.ok()) return ReportError(a_path, va.status(), err);
    if (!vb.ok()) return ReportError(b_path, vb.status(), err);
    if (va->nbytes() == 0 || std::memcmp(va->data_ptr(), vb->data_ptr(), va->nbytes()) == 0) continue;
    different = true;
    bar.Finish();
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
  bar.Finish();
  if (a->metadata() != b->metadata()) {
    out << "metadata differs\n";
    different = true;
  }
  if (!different) out << "identical: " << a->keys().size() << " tensors\n";
  return different ? kExitProblem : kExitOk;
}


int RunValueCommand(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  if (!args.empty() && args[0] == "dump") {
    return Dump(std::vector<std::string>(args.begin() + 1, args.end()), out, err);
  }
  if (!args.empty() && args[0] == "diff") {
    return Diff(std::vector<std::string>(args.begin() + 1, args.end()), out, err);
  }
  err << "safetensors_values: expected dump or diff\n";
  return kExitUsage;
}

}  // namespace cli
}  // namespace safetensors

#include "tools/convert_command.h"

#include <sys/stat.h>  // mkdir

#include <cerrno>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "io/file.h"
#include "io/pickle_convert.h"
#include "io/pickle_file.h"
#include "parser/error.h"
#include "tools/cli_util.h"
#include "tools/progress_bar.h"

namespace safetensors {
namespace cli {
namespace {

constexpr char kConvertUsage[] = R"(usage: safetensors convert [--skip-unknown] [--key PATH] IN OUT

Converts a torch.save checkpoint to safetensors without running it: the job
of the reference's convert.py, with IN read as data (as `check` reads it;
anything check refuses is refused here, and nothing is written).
  IN a file (pytorch_model.bin, .pt, .ckpt): OUT is the .safetensors file.
  IN a pytorch_model.bin.index.json, or a directory holding one: OUT is a
     directory; each shard becomes model-0000i-of-0000n.safetensors and the
     index model.safetensors.index.json, as convert.py names them.
  IN a directory holding pytorch_model.bin: OUT/model.safetensors.
Tensors come from the dict under --key (dot-separated), else under
"state_dict", "model" or "module", else the top level. Tensors sharing a
storage are written once, the dropped names recorded in the metadata beside
{"format": "pt"}, as safetensors.torch._remove_duplicate_names does;
non-contiguous tensors are written contiguous, big-endian ones little-endian.
Output files are replaced atomically. A progress bar on a terminal.
exit: 0 converted, 1 IN refused, 2 usage/I-O.
)";

std::string Summary(const ConvertResult& r) {
  std::string text = absl::StrCat(r.tensors, " tensors, ", r.bytes, " bytes");
  if (!r.dropped.empty()) {
    absl::StrAppend(&text, "; ", r.dropped.size(), " shared name", r.dropped.size() == 1 ? "" : "s",
                    " recorded in the metadata (");
    for (size_t i = 0; i < r.dropped.size() && i < 3; ++i) {
      absl::StrAppend(&text, i ? ", " : "", QuoteForMessage(r.dropped[i].first), " -> ",
                      QuoteForMessage(r.dropped[i].second));
    }
    absl::StrAppend(&text, r.dropped.size() > 3 ? ", ...)" : ")");
  }
  return text;
}

}  // namespace

int Convert(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  absl::StatusOr<Args> parsed = ParseArgs(args, {"key"}, {"skip-unknown", "help"});
  if (parsed.ok() && parsed->flags.count("help")) {
    out << kConvertUsage;
    return kExitOk;
  }
  if (!parsed.ok() || parsed->positional.size() != 2) {
    err << "safetensors convert: " << (parsed.ok() ? "expected IN and OUT" : parsed.status().message())
        << "\n" << kConvertUsage;
    return kExitUsage;
  }
  const std::string in = ResolvePath(parsed->positional[0]);
  const std::string output = ResolvePath(parsed->positional[1]);
  ConvertOptions options;
  options.pickle.skip_unknown = parsed->flags.count("skip-unknown") != 0;
  options.pickle.key_path = parsed->flags["key"];
  ProgressBar bar("convert", std::cerr, ProgressBar::StderrIsTerminal());
  options.progress = [&bar](uint64_t done, uint64_t total) { bar.Update(done, total); };
  const std::string shown = EscapeText(parsed->positional[0]);
  const PickleCheckpointPath resolved = ResolvePickleCheckpointPath(in);
  if (resolved.sharded) {
    absl::StatusOr<CheckpointConversion> r = ConvertPickleCheckpoint(in, output, options);
    bar.Finish();
    if (!r.ok()) return ReportError(parsed->positional[0], r.status(), err);
    out << shown << " -> " << EscapeText(parsed->positional[1]) << ": " << r->outputs.size()
        << " shards and model.safetensors.index.json, " << Summary(r->total) << "\n";
    return kExitOk;
  }
  const std::string& file = resolved.path;
  std::string target = output;
  if (IsDirectory(in)) {
    target = output + "/model.safetensors";
    if (::mkdir(output.c_str(), 0777) != 0 && errno != EEXIST) {
      return ReportError(parsed->positional[1], MakeIoError(errno, "cannot make the output directory"), err);
    }
  }
  absl::StatusOr<ConvertResult> r = ConvertPickleFile(file, target, options);
  bar.Finish();
  if (!r.ok()) return ReportError(parsed->positional[0], r.status(), err);
  out << shown << " -> " << EscapeText(target == output ? parsed->positional[1] : target) << ": "
      << Summary(*r) << "\n";
  return kExitOk;
}

}  // namespace cli
}  // namespace safetensors

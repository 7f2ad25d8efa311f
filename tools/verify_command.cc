#include "tools/verify_command.h"

#include <cstdlib>
#include <optional>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "io/file.h"
#include "io/verify.h"
#include "parser/checksum_list.h"
#include "parser/error.h"
#include "parser/json_string.h"
#include "tools/cli_util.h"
#include "tools/progress_bar.h"

namespace safetensors {
namespace cli {

constexpr char kVerifyUsage[] = R"(usage: safetensors verify [--json] [--threads N] PATH...
       safetensors verify [--json] --sha256 HEX FILE
       safetensors verify [--json] --sums LIST

Checks that files are the bytes that were published, with no network. A
PATH is a file, a checkpoint or hub-cache snapshot directory, or a hub-cache
repo folder (models--org--name: every snapshot). A file reached through a
symlink into the hub cache's blobs/ is checked against the blob's name: 64
hex digits are its SHA-256, 40 its git blob id. Other files are reported as
unverifiable, which is no failure. --sha256 checks one file against HEX;
--sums checks a sha256sum list (names relative to the current directory, as
sha256sum -c reads them). Files are hashed in parallel (--threads, default
one per core and at least 2); a blob several snapshots share is read once.
--json prints one object per file per line: file, status (ok, mismatch,
missing, unverifiable, error), algorithm, expected, actual, bytes, message.
exit: 0 all verified, 1 any mismatch or missing, 2 usage or I/O error.
)";

namespace {

struct Counts {
  int ok = 0, mismatch = 0, missing = 0, unverifiable = 0, error = 0;
};

std::string ResultJson(const VerifyResult& r) {
  std::string message;
  if (!r.error.ok()) message = std::string(r.error.message());
  if (r.outcome == VerifyOutcome::kUnverifiable) message = r.note;
  return absl::StrCat(
      "{\"file\":", JsonStringForTerminal(r.shown), ",\"status\":\"",
      VerifyOutcomeName(r.outcome), "\",\"algorithm\":",
      r.digest.has_value() ? absl::StrCat("\"", DigestName(*r.digest), "\"") : "null",
      ",\"expected\":", r.expected_hex.empty() ? "null" : absl::StrCat("\"", r.expected_hex, "\""),
      ",\"actual\":", r.actual_hex.empty() ? "null" : absl::StrCat("\"", r.actual_hex, "\""),
      ",\"bytes\":", r.bytes, ",\"message\":",
      message.empty() ? "null" : JsonStringForTerminal(message), "}");
}

std::string ResultText(const VerifyResult& r) {
  const std::string shown = EscapeText(r.shown);
  switch (r.outcome) {
    case VerifyOutcome::kOk:
      return absl::StrCat(shown, ": OK (", DigestName(*r.digest), ")");
    case VerifyOutcome::kMismatch:
      return absl::StrCat(shown, ": MISMATCH ", DigestName(*r.digest), " expected ",
                          r.expected_hex, ", got ", r.actual_hex);
    case VerifyOutcome::kMissing:
      return absl::StrCat(shown, ": MISSING (", DigestName(*r.digest), " ", r.expected_hex,
                          "): ", r.error.message());
    case VerifyOutcome::kUnverifiable:
      return absl::StrCat(shown, ": UNVERIFIABLE: ", r.note);
    case VerifyOutcome::kError:
      return absl::StrCat(shown, ": ERROR: ", r.error.message());
  }
  return shown;
}

// Hashes `targets`, prints each result, and returns the exit code.
int Report(const std::vector<VerifyTarget>& targets, bool json, int threads, std::ostream& out) {
  ProgressBar bar("verify", std::cerr, ProgressBar::StderrIsTerminal() && !json);
  VerifyOptions options;
  options.threads = threads;
  // The tool owns its process: hash the page cache in place (io/file_hash.h).
  options.read_mapped = true;
  options.progress = [&bar](uint64_t done, uint64_t total) { bar.Update(done, total); };
  const std::vector<VerifyResult> results = VerifyFiles(targets, options);
  bar.Finish();
  Counts counts;
  for (const VerifyResult& r : results) {
    switch (r.outcome) {
      case VerifyOutcome::kOk: ++counts.ok; break;
      case VerifyOutcome::kMismatch: ++counts.mismatch; break;
      case VerifyOutcome::kMissing: ++counts.missing; break;
      case VerifyOutcome::kUnverifiable: ++counts.unverifiable; break;
      case VerifyOutcome::kError: ++counts.error; break;
    }
    out << (json ? ResultJson(r) : ResultText(r)) << "\n";
  }
  if (!json) {
    out << "verify: " << counts.ok << " ok, " << counts.mismatch << " mismatch, "
        << counts.missing << " missing, " << counts.unverifiable << " unverifiable, "
        << counts.error << " error" << (counts.error == 1 ? "" : "s") << "\n";
  }
  if (counts.error > 0) return kExitUsage;
  if (counts.mismatch > 0 || counts.missing > 0) return kExitProblem;
  return kExitOk;
}

// A target checked against a SHA-256 the caller gives.
VerifyTarget WithSha256(const std::string& shown, const std::string& path, std::string hex) {
  VerifyTarget target;
  target.shown = shown;
  target.path = path;
  target.expected = ExpectedDigest{Digest::kSha256, absl::AsciiStrToLower(hex)};
  return target;
}

}  // namespace

int VerifyPaths(const std::vector<std::string>& paths, bool json, int threads,
                std::ostream& out, std::ostream& err) {
  std::vector<VerifyTarget> targets;
  for (const std::string& path : paths) {
    const std::string resolved = ResolvePath(path);
    absl::StatusOr<std::vector<VerifyTarget>> found = FindVerifyTargets(resolved);
    if (!found.ok()) return ReportError(path, found.status(), err);
    for (VerifyTarget& t : *found) {
      // Shown as the user spelled the PATH, not as resolved for `bazel run`.
      if (absl::StartsWith(t.shown, resolved)) t.shown = path + t.shown.substr(resolved.size());
      targets.push_back(std::move(t));
    }
  }
  return Report(targets, json, threads, out);
}

int Verify(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  absl::StatusOr<Args> parsed = ParseArgs(args, {"sha256", "sums", "threads"}, {"json", "help"});
  if (parsed.ok() && parsed->flags.count("help")) {
    out << kVerifyUsage;
    return kExitOk;
  }
  auto usage = [&](absl::string_view why) {
    err << "safetensors verify: " << why << "\n" << kVerifyUsage;
    return kExitUsage;
  };
  if (!parsed.ok()) return usage(parsed.status().message());
  const bool json = parsed->flags.count("json") != 0;
  int threads = 0;
  if (parsed->flags.count("threads") &&
      (!absl::SimpleAtoi(parsed->flags["threads"], &threads) || threads < 1 || threads > 256)) {
    return usage("--threads takes a number from 1 to 256");
  }
  const bool sha256 = parsed->flags.count("sha256") != 0;
  const bool sums = parsed->flags.count("sums") != 0;
  if (sha256 && sums) return usage("--sha256 and --sums exclude each other");
  std::vector<VerifyTarget> targets;
  if (sha256) {
    const std::string& hex = parsed->flags["sha256"];
    if (!DigestFromBlobName(hex).has_value() || hex.size() != 64) {
      return usage("--sha256 takes 64 hex digits");
    }
    if (parsed->positional.size() != 1) return usage("--sha256 checks exactly one FILE");
    const std::string& file = parsed->positional[0];
    targets.push_back(WithSha256(file, ResolvePath(file), hex));
  } else if (sums) {
    if (!parsed->positional.empty()) return usage("--sums takes no other PATH");
    const std::string list_path = ResolvePath(parsed->flags["sums"]);
    // A checksum list is text of one line per file: 64 MiB is millions.
    constexpr uint64_t kMaxListBytes = uint64_t{64} << 20;
    absl::StatusOr<std::shared_ptr<File>> list_file = File::Open(list_path);
    if (!list_file.ok()) return ReportError(parsed->flags["sums"], list_file.status(), err);
    if ((*list_file)->size() > kMaxListBytes) {
      return usage(absl::StrCat("--sums list is larger than ", kMaxListBytes, " bytes"));
    }
    std::string text(static_cast<size_t>((*list_file)->size()), '\0');
    absl::Status read = (*list_file)->ReadAt(
        0, absl::MakeSpan(reinterpret_cast<uint8_t*>(text.data()), text.size()));
    if (!read.ok()) return ReportError(parsed->flags["sums"], read, err);
    const ChecksumList list = ParseSha256Sums(text);
    if (!list.malformed_lines.empty()) {
      err << "safetensors verify: " << EscapeText(parsed->flags["sums"]) << ": "
          << list.malformed_lines.size() << " line"
          << (list.malformed_lines.size() == 1 ? " is" : "s are")
          << " improperly formatted (first: line " << list.malformed_lines[0] << ")\n";
    }
    if (list.entries.empty()) return usage("no properly formatted checksum lines found");
    for (const ChecksumEntry& e : list.entries) {
      targets.push_back(WithSha256(e.name, ResolvePath(e.name), e.sha256_hex));
    }
  } else {
    if (parsed->positional.empty()) return usage("no PATH given");
    return VerifyPaths(parsed->positional, json, threads, out, err);
  }
  return Report(targets, json, threads, out);
}

}  // namespace cli
}  // namespace safetensors

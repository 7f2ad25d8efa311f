#include "io/verify.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "io/file.h"
#include "parser/error.h"

namespace safetensors {
namespace {

// Deeper than any repository's folders; a bound so no tree can exhaust us.
constexpr int kMaxDepth = 64;

// `path` with every symlink resolved; empty when it cannot be (dangling).
std::string RealPath(const std::string& path) {
  char resolved[PATH_MAX];
  return ::realpath(path.c_str(), resolved) != nullptr ? std::string(resolved) : std::string();
}

// The expected digest when `real_path` is a file directly inside a folder
// named blobs/ and its name is a digest.
std::optional<ExpectedDigest> BlobDigest(const std::string& real_path) {
  const std::string dir = DirectoryOf(real_path);
  if (BaseNameOf(dir) != "blobs") return std::nullopt;
  return DigestFromBlobName(BaseNameOf(real_path));
}

VerifyTarget TargetFor(const std::string& path) {
  VerifyTarget target;
  target.shown = path;
  target.path = path;
  std::string real = RealPath(path);
  if (real.empty()) {
    // A dangling link (the blob is gone): its target still names the digest.
    char link[PATH_MAX];
    const ssize_t n = ::readlink(path.c_str(), link, sizeof link - 1);
    if (n > 0) {
      link[n] = '\0';
      std::string target_path = link;
      if (target_path[0] != '/') target_path = DirectoryOf(path) + "/" + target_path;
      real = target_path;
    }
  }
  target.expected = BlobDigest(real);
  if (!target.expected.has_value()) {
    target.why_unverifiable = "not a hub-cache blob (no digest to check against)";
  }
  return target;
}

// Every entry under `dir`, in name order, recursing into real folders.
absl::Status Walk(const std::string& dir, int depth, std::vector<VerifyTarget>& out) {
  if (depth > kMaxDepth) {
    return MakeError(ErrorCode::kBadArgument,
                     absl::StrCat(QuoteForMessage(dir), " is more than ", kMaxDepth,
                                  " folders deep"));
  }
  DIR* handle = ::opendir(dir.c_str());
  if (handle == nullptr) {
    return MakeIoError(errno, absl::StrCat("cannot list ", QuoteForMessage(dir)));
  }
  std::vector<std::string> names;
  while (const dirent* entry = ::readdir(handle)) {
    const std::string name = entry->d_name;
    if (name != "." && name != "..") names.push_back(name);
  }
  ::closedir(handle);
  std::sort(names.begin(), names.end());
  for (const std::string& name : names) {
    const std::string path = dir + "/" + name;
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0) continue;  // gone since listed
    if (S_ISDIR(st.st_mode)) {
      if (absl::Status s = Walk(path, depth + 1, out); !s.ok()) return s;
      continue;
    }
    if (S_ISLNK(st.st_mode) && IsDirectory(path)) {
      VerifyTarget link;
      link.shown = path;
      link.path = path;
      link.why_unverifiable = "a symlink to a folder, not followed";
      out.push_back(std::move(link));
      continue;
    }
    out.push_back(TargetFor(path));
  }
  return absl::OkStatus();
}

bool IsHubRepoFolder(const std::string& path) {
  return IsDirectory(path + "/blobs") && IsDirectory(path + "/snapshots");
}

// One distinct file to hash, and the targets it answers.
struct HashJob {
  std::string path;
  Digest digest;
  uint64_t size = 0;  // as stat saw it, to start the largest first
  std::vector<size_t> targets;
};

}  // namespace

std::optional<ExpectedDigest> DigestFromBlobName(absl::string_view name) {
  if (name.size() != 64 && name.size() != 40) return std::nullopt;
  for (char c : name) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) return std::nullopt;
  }
  return ExpectedDigest{name.size() == 64 ? Digest::kSha256 : Digest::kGitBlobId,
                        absl::AsciiStrToLower(name)};
}

absl::StatusOr<std::vector<VerifyTarget>> FindVerifyTargets(const std::string& path) {
  std::vector<VerifyTarget> targets;
  if (!IsDirectory(path)) {  // a file, a link, or nothing (reported missing)
    targets.push_back(TargetFor(path));
    return targets;
  }
  if (IsHubRepoFolder(path)) {
    absl::Status s = Walk(path + "/snapshots", 0, targets);
    if (!s.ok()) return s;
    return targets;
  }
  absl::Status s = Walk(path, 0, targets);
  if (!s.ok()) return s;
  return targets;
}

absl::string_view VerifyOutcomeName(VerifyOutcome outcome) {
  switch (outcome) {
    case VerifyOutcome::kOk: return "ok";
    case VerifyOutcome::kMismatch: return "mismatch";
    case VerifyOutcome::kMissing: return "missing";
    case VerifyOutcome::kUnverifiable: return "unverifiable";
    case VerifyOutcome::kError: return "error";
  }
  return "error";
}

std::vector<VerifyResult> VerifyFiles(absl::Span<const VerifyTarget> targets,
                                      const VerifyOptions& options) {
  std::vector<VerifyResult> results(targets.size());
  // One job per distinct (real file, digest): a blob many snapshots share is
  // read once.
  std::map<std::pair<std::string, Digest>, size_t> job_of;
  std::vector<HashJob> jobs;
  for (size_t i = 0; i < targets.size(); ++i) {
    const VerifyTarget& target = targets[i];
    VerifyResult& result = results[i];
    result.shown = target.shown;
    if (!target.expected.has_value()) {
      struct stat st;
      if (::stat(target.path.c_str(), &st) != 0 && errno == ENOENT) {
        result.outcome = VerifyOutcome::kMissing;
        result.error = MakeIoError(ENOENT, absl::StrCat("cannot open ", QuoteForMessage(target.path)));
        continue;
      }
      result.outcome = VerifyOutcome::kUnverifiable;
      result.note = target.why_unverifiable;
      continue;
    }
    result.digest = target.expected->digest;
    result.expected_hex = target.expected->hex;
    std::string real = RealPath(target.path);
    if (real.empty()) real = target.path;  // opening it says why
    const auto key = std::make_pair(real, target.expected->digest);
    auto [it, inserted] = job_of.emplace(key, jobs.size());
    if (inserted) {
      HashJob job;
      job.path = target.path;
      job.digest = target.expected->digest;
      struct stat st;
      if (::stat(target.path.c_str(), &st) == 0) job.size = static_cast<uint64_t>(st.st_size);
      jobs.push_back(std::move(job));
    }
    jobs[it->second].targets.push_back(i);
  }
  std::vector<size_t> order(jobs.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return jobs[a].size > jobs[b].size; });
  uint64_t total = 0;
  for (const HashJob& job : jobs) total += job.size;

  std::mutex progress_mutex;
  uint64_t done = 0;
  auto report = [&](uint64_t bytes) {
    if (!options.progress) return;
    std::lock_guard<std::mutex> lock(progress_mutex);
    done = std::min(total, done + bytes);
    options.progress(done, total);
  };
  // One set of readers for the files not in the page cache, which favours
  // the thread with the most work left.
  HashReadPool read_pool;
  // Each job writes only the results of its own targets.
  auto run = [&](const HashJob& job, uint64_t bytes_after) {
    absl::StatusOr<std::shared_ptr<File>> file = File::Open(job.path);
    absl::StatusOr<std::string> hex = absl::UnknownError("not hashed");
    uint64_t bytes = 0;
    if (file.ok()) {
      HashOptions hash_options;
      hash_options.on_bytes = report;
      hash_options.read_mapped = options.read_mapped;
      hash_options.read_pool = &read_pool;
      hash_options.bytes_after = bytes_after;
      hex = HashFile(**file, job.digest, hash_options);
      bytes = (*file)->size();
    } else {
      hex = file.status();
    }
    for (size_t i : job.targets) {
      VerifyResult& result = results[i];
      if (!hex.ok()) {
        result.outcome = absl::IsNotFound(hex.status()) ? VerifyOutcome::kMissing
                                                        : VerifyOutcome::kError;
        result.error = hex.status();
        continue;
      }
      result.bytes = bytes;
      result.actual_hex = *hex;
      result.outcome =
          *hex == result.expected_hex ? VerifyOutcome::kOk : VerifyOutcome::kMismatch;
    }
  };

  int threads = options.threads;
  if (threads <= 0) threads = std::max(2, static_cast<int>(std::thread::hardware_concurrency()));
  threads = std::min<int>(threads, static_cast<int>(jobs.size()));
  // Dealt out up front, largest first to the thread with the least so far,
  // so that the pool knows the work each thread has left
  // (HashOptions::bytes_after) and keeps the one that will end last waiting
  // least. Cold (b) in interleaved rounds: 0.87-0.95 s against 0.92-1.14 s
  // when threads took the next file as they came free and the readers
  // filled one ring at a time.
  const size_t workers = static_cast<size_t>(std::max(threads, 1));
  std::vector<std::vector<size_t>> plan(workers);
  std::vector<uint64_t> planned(workers, 0);
  for (size_t k : order) {
    const size_t least = static_cast<size_t>(
        std::min_element(planned.begin(), planned.end()) - planned.begin());
    plan[least].push_back(k);
    planned[least] += jobs[k].size;
  }
  auto worker = [&](size_t w) {
    uint64_t after = planned[w];
    for (size_t k : plan[w]) {
      after -= jobs[k].size;
      run(jobs[k], after);
    }
  };
  std::vector<std::thread> pool;
  for (size_t w = 1; w < workers; ++w) pool.emplace_back(worker, w);
  worker(0);
  for (std::thread& t : pool) t.join();
  return results;
}

}  // namespace safetensors

// `safetensors verify` and `check --verify`, through the tool's own entry
// point, against sha256sum, `sha256sum -c` and git hash-object as oracles.
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "io/test_util.h"
#include "testdata/test_files.h"
#include "tools/cli.h"
#include "tools/cli_util.h"

namespace safetensors {
namespace cli {
namespace {

using ::safetensors::testing::AddHubBlob;
using ::safetensors::testing::LinkHubSnapshot;
using ::safetensors::testing::NewTempDir;
using ::safetensors::testing::PatternedBytes;
using ::safetensors::testing::ReadTestFile;
using ::safetensors::testing::Sha256sumOf;
using ::safetensors::testing::WriteBytes;
using ::testing::HasSubstr;
using ::testing::Not;

struct Result {
  int code;
  std::string out, err;
};

Result RunCli(std::vector<std::string> args) {
  std::ostringstream out, err;
  const int code = Run(args, out, err, nullptr);
  return {code, out.str(), err.str()};
}

constexpr char kShard1[] = "testdata/checkpoints/valid_two_shards/model-00001-of-00002.safetensors";
constexpr char kShard2[] = "testdata/checkpoints/valid_two_shards/model-00002-of-00002.safetensors";
constexpr char kIndex[] = "testdata/checkpoints/valid_two_shards/model.safetensors.index.json";

// A hub-cache repo of the two-shard checkpoint; `flip_second` flips a byte
// of the second shard's blob after it was named.
std::string MakeHubRepo(const std::string& name, bool flip_second) {
  const std::string repo = NewTempDir(name);
  const std::string index = AddHubBlob(repo, ReadTestFile(kIndex), /*lfs=*/false);
  const std::string first = AddHubBlob(repo, ReadTestFile(kShard1), /*lfs=*/true);
  std::string second_bytes = ReadTestFile(kShard2);
  const std::string second = AddHubBlob(repo, second_bytes, /*lfs=*/true);
  if (flip_second) {
    second_bytes[second_bytes.size() - 1] ^= 0x40;
    WriteBytes(repo + "/blobs/" + second, second_bytes);
  }
  LinkHubSnapshot(repo, "abc123", "model.safetensors.index.json", index);
  LinkHubSnapshot(repo, "abc123", "model-00001-of-00002.safetensors", first);
  LinkHubSnapshot(repo, "abc123", "model-00002-of-00002.safetensors", second);
  return repo;
}

TEST(VerifyCommandTest, AGoodHubCacheVerifies) {
  const std::string repo = MakeHubRepo("models--good", false);
  const Result r = RunCli({"verify", repo});
  EXPECT_EQ(r.code, kExitOk) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("/snapshots/abc123/model-00001-of-00002.safetensors: OK (sha256)\n"));
  EXPECT_THAT(r.out, HasSubstr("/snapshots/abc123/model.safetensors.index.json: OK (git-sha1)\n"));
  EXPECT_THAT(r.out, HasSubstr("verify: 3 ok, 0 mismatch, 0 missing, 0 unverifiable, 0 errors\n"));
  // The snapshot folder and one link verify alike; so does check --verify.
  EXPECT_EQ(RunCli({"verify", repo + "/snapshots/abc123"}).code, kExitOk);
  EXPECT_EQ(RunCli({"verify", repo + "/snapshots/abc123/model-00001-of-00002.safetensors"}).code,
            kExitOk);
  const Result check = RunCli({"check", "--verify", repo + "/snapshots/abc123"});
  EXPECT_EQ(check.code, kExitOk) << check.out;
  EXPECT_THAT(check.out, HasSubstr(": OK, checkpoint of 2 shards, 3 tensors"));
  EXPECT_THAT(check.out, HasSubstr("verify: 3 ok,"));
}

TEST(VerifyCommandTest, AFlippedByteAMissingBlobAndAPlainFile) {
  const std::string repo = MakeHubRepo("models--bad", true);
  const std::string snapshot = repo + "/snapshots/abc123";
  LinkHubSnapshot(repo, "abc123", "gone.bin", std::string(64, 'c'));
  WriteBytes(snapshot + "/README.md", "hello\n");
  const Result r = RunCli({"verify", snapshot});
  EXPECT_EQ(r.code, kExitProblem);
  const std::string second_blob_path =
      repo + "/blobs/" + Sha256sumOf(std::string(kShard2));  // named before the flip
  EXPECT_THAT(r.out, HasSubstr(absl::StrCat("model-00002-of-00002.safetensors: MISMATCH sha256 expected ",
                                            Sha256sumOf(kShard2), ", got ",
                                            Sha256sumOf(second_blob_path))));
  EXPECT_THAT(r.out, HasSubstr(absl::StrCat("gone.bin: MISSING (sha256 ", std::string(64, 'c'))));
  EXPECT_THAT(r.out, HasSubstr("README.md: UNVERIFIABLE: not a hub-cache blob"));
  EXPECT_THAT(r.out, HasSubstr("verify: 2 ok, 1 mismatch, 1 missing, 1 unverifiable, 0 errors"));

  const Result json = RunCli({"verify", "--json", snapshot});
  EXPECT_EQ(json.code, kExitProblem);
  const std::vector<std::string> lines = absl::StrSplit(json.out, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 5u);  // one object per file, no summary
  EXPECT_THAT(json.out, HasSubstr(absl::StrCat("\"status\":\"mismatch\",\"algorithm\":\"sha256\",\"expected\":\"",
                                               Sha256sumOf(kShard2), "\",\"actual\":\"",
                                               Sha256sumOf(second_blob_path), "\"")));
  EXPECT_THAT(json.out, HasSubstr("\"status\":\"unverifiable\",\"algorithm\":null,\"expected\":null"));
  EXPECT_THAT(json.out, HasSubstr("\"status\":\"missing\""));

  // check --verify: the headers are valid (the flip is in tensor data), the
  // content is not.
  const Result check = RunCli({"check", "--verify", snapshot + "/model-00002-of-00002.safetensors"});
  EXPECT_EQ(check.code, kExitProblem);
  EXPECT_THAT(check.out, HasSubstr("model-00002-of-00002.safetensors: OK, 1 tensors"));
  EXPECT_THAT(check.out, HasSubstr("MISMATCH sha256"));
  EXPECT_EQ(RunCli({"check", snapshot + "/model-00002-of-00002.safetensors"}).code, kExitOk);
}

TEST(VerifyCommandTest, Sha256AgainstOneFile) {
  const std::string hex = Sha256sumOf(kShard1);
  EXPECT_EQ(RunCli({"verify", "--sha256", hex, kShard1}).code, kExitOk);
  const Result wrong = RunCli({"verify", "--sha256", std::string(64, '0'), kShard1});
  EXPECT_EQ(wrong.code, kExitProblem);
  EXPECT_THAT(wrong.out, HasSubstr("MISMATCH sha256 expected " + std::string(64, '0') + ", got " + hex));
  EXPECT_EQ(RunCli({"verify", "--sha256", "abc", kShard1}).code, kExitUsage);
  EXPECT_EQ(RunCli({"verify", "--sha256", hex}).code, kExitUsage);
}

// The verdict of each listed file, from `sha256sum -c`'s output lines
// "NAME: OK", "NAME: FAILED", "NAME: FAILED open or read".
std::map<std::string, std::string> Sha256sumCheckVerdicts(const std::string& list) {
  std::map<std::string, std::string> verdicts;
  FILE* pipe = ::popen(("sha256sum -c '" + list + "' 2>/dev/null").c_str(), "r");
  EXPECT_NE(pipe, nullptr);
  char line[4096];
  while (pipe != nullptr && std::fgets(line, sizeof line, pipe) != nullptr) {
    std::string text(line);
    if (!text.empty() && text.back() == '\n') text.pop_back();
    const size_t colon = text.rfind(": ");
    if (colon == std::string::npos) continue;
    const std::string verdict = text.substr(colon + 2);
    verdicts[text.substr(0, colon)] = verdict == "OK"       ? "ok"
                                      : verdict == "FAILED" ? "mismatch"
                                                            : "missing";
  }
  if (pipe != nullptr) ::pclose(pipe);
  return verdicts;
}

TEST(VerifyCommandTest, SumsAgreeWithSha256sumCheck) {
  const std::string dir = NewTempDir("sums");
  WriteBytes(dir + "/a.safetensors", PatternedBytes(5 << 20));
  WriteBytes(dir + "/b.json", "{}\n");
  WriteBytes(dir + "/c.bin", PatternedBytes(100));
  std::string list;
  for (const char* name : {"a.safetensors", "b.json", "c.bin", "gone.bin"}) {
    const std::string path = dir + "/" + name;
    if (std::string(name) == "gone.bin") WriteBytes(path, "soon gone");
    absl::StrAppend(&list, Sha256sumOf(path), "  ", path, "\n");
  }
  list += "this line is not a checksum line\n";
  WriteBytes(dir + "/c.bin", PatternedBytes(101));  // changed since listed
  ASSERT_EQ(std::remove((dir + "/gone.bin").c_str()), 0);
  WriteBytes(dir + "/SHA256SUMS", list);

  const std::map<std::string, std::string> oracle = Sha256sumCheckVerdicts(dir + "/SHA256SUMS");
  ASSERT_EQ(oracle.size(), 4u);
  const Result r = RunCli({"verify", "--json", "--sums", dir + "/SHA256SUMS"});
  EXPECT_EQ(r.code, kExitProblem);
  EXPECT_THAT(r.err, HasSubstr("1 line is improperly formatted (first: line 5)"));
  int compared = 0;
  for (const auto& [name, verdict] : oracle) {
    SCOPED_TRACE(name);
    EXPECT_THAT(r.out, HasSubstr(absl::StrCat("{\"file\":\"", name, "\",\"status\":\"", verdict, "\"")));
    ++compared;
  }
  EXPECT_EQ(compared, 4);
  EXPECT_EQ(oracle.at(dir + "/a.safetensors"), "ok");
  EXPECT_EQ(oracle.at(dir + "/c.bin"), "mismatch");
  EXPECT_EQ(oracle.at(dir + "/gone.bin"), "missing");

  WriteBytes(dir + "/empty", "nothing here\n");
  EXPECT_EQ(RunCli({"verify", "--sums", dir + "/empty"}).code, kExitUsage);
}

TEST(VerifyCommandTest, UsageAndErrors) {
  EXPECT_EQ(RunCli({"verify"}).code, kExitUsage);
  EXPECT_EQ(RunCli({"verify", "--threads", "0", kShard1}).code, kExitUsage);
  EXPECT_THAT(RunCli({"verify", "--help"}).out, HasSubstr("usage: safetensors verify"));
  EXPECT_THAT(RunCli({"--help"}).out, HasSubstr("verify PATH..."));
  // A PATH that is not there is missing; a FIFO standing as a blob is an
  // error, at once.
  const Result missing = RunCli({"verify", "/no/such/file"});
  EXPECT_EQ(missing.code, kExitProblem);
  EXPECT_THAT(missing.out, HasSubstr("/no/such/file: MISSING"));
  const std::string repo = NewTempDir("models--fifo");
  const std::string blob = std::string(64, 'd');
  std::filesystem::create_directories(repo + "/blobs");
  ::safetensors::testing::MakeSpecialFile(::safetensors::testing::SpecialFile::kFifo,
                                          repo + "/blobs/" + blob);
  LinkHubSnapshot(repo, "r", "model.safetensors", blob);
  ::safetensors::testing::Watchdog watchdog("verify of a FIFO blob");
  const Result fifo = RunCli({"verify", repo});
  EXPECT_EQ(fifo.code, kExitUsage);
  EXPECT_THAT(fifo.out, HasSubstr("ERROR: "));
  EXPECT_THAT(fifo.out, HasSubstr("is a FIFO (named pipe), not a regular file"));
  EXPECT_THAT(fifo.out, Not(HasSubstr(": OK")));
}

}  // namespace
}  // namespace cli
}  // namespace safetensors

#include "io/verify.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "io/test_util.h"
#include "parser/error.h"
#include "parser/status_matchers.h"
#include "testdata/test_files.h"

namespace safetensors {
namespace {

namespace fs = std::filesystem;
using ::safetensors::testing::AddHubBlob;
using ::safetensors::testing::HasErrorCode;
using ::safetensors::testing::LinkHubSnapshot;
using ::safetensors::testing::Sha256sumOf;
using ::safetensors::testing::WriteBytes;
using ::safetensors::testing::NewTempDir;
using ::safetensors::testing::PatternedBytes;
using ::testing::HasSubstr;

std::map<std::string, VerifyResult> ByShownName(const std::vector<VerifyResult>& results,
                                                const std::string& prefix) {
  std::map<std::string, VerifyResult> by_name;
  for (const VerifyResult& r : results) {
    EXPECT_EQ(r.shown.rfind(prefix, 0), 0u) << r.shown;
    by_name[r.shown.substr(prefix.size())] = r;
  }
  return by_name;
}

// A hub cache with two snapshots: good LFS and git blobs, a blob with one
// byte flipped, a blob gone, a file that is no blob, a FIFO; the verdicts
// follow sha256sum's and git hash-object's digests, and the shared blob is
// hashed once.
TEST(VerifyTest, HubCacheTreeAgainstSha256sumAndGitHashObject) {
  const std::string repo = NewTempDir("models--org--name");
  fs::create_directories(repo + "/blobs");
  fs::create_directories(repo + "/refs");
  const std::string weights = PatternedBytes((33 << 20) + 123);  // three 16 MiB blocks
  const std::string model_blob = AddHubBlob(repo, weights, /*lfs=*/true);
  const std::string config_blob = AddHubBlob(repo, "{\"hidden_size\": 8}\n", /*lfs=*/false);
  std::string flipped = PatternedBytes(5000);
  const std::string flipped_blob = AddHubBlob(repo, flipped, /*lfs=*/true);
  flipped[4321] = static_cast<char>(flipped[4321] ^ 0x01);  // after it was named
  WriteBytes(repo + "/blobs/" + flipped_blob, flipped);
  const std::string gone_blob = std::string(64, 'a');
  LinkHubSnapshot(repo, "rev1", "model.safetensors", model_blob);
  LinkHubSnapshot(repo, "rev1", "config.json", config_blob);
  LinkHubSnapshot(repo, "rev1", "sub/flipped.safetensors", flipped_blob);
  LinkHubSnapshot(repo, "rev1", "gone.safetensors", gone_blob);
  WriteBytes(repo + "/snapshots/rev1/README.md", "not a blob\n");
  testing::MakeSpecialFile(testing::SpecialFile::kFifo, repo + "/snapshots/rev1/pipe");
  LinkHubSnapshot(repo, "rev2", "model.safetensors", model_blob);

  testing::Watchdog watchdog("verify of a hub cache holding a FIFO");
  ASSERT_OK_AND_ASSIGN(std::vector<VerifyTarget> targets, FindVerifyTargets(repo));
  uint64_t last_done = 0, last_total = 0;
  int calls = 0;
  VerifyOptions options;
  options.progress = [&](uint64_t done, uint64_t total) {
    EXPECT_GE(done, last_done);
    last_done = done;
    last_total = total;
    ++calls;
  };
  const std::vector<VerifyResult> results = VerifyFiles(targets, options);
  const auto by_name = ByShownName(results, repo + "/snapshots/");
  ASSERT_EQ(by_name.size(), 7u);

  const VerifyResult& model = by_name.at("rev1/model.safetensors");
  EXPECT_EQ(model.outcome, VerifyOutcome::kOk);
  EXPECT_EQ(model.digest, Digest::kSha256);
  EXPECT_EQ(model.actual_hex, model_blob);
  EXPECT_EQ(model.bytes, weights.size());
  EXPECT_EQ(by_name.at("rev2/model.safetensors").outcome, VerifyOutcome::kOk);

  const VerifyResult& config = by_name.at("rev1/config.json");
  EXPECT_EQ(config.outcome, VerifyOutcome::kOk);
  EXPECT_EQ(config.digest, Digest::kGitBlobId);
  EXPECT_EQ(config.actual_hex, config_blob);

  const VerifyResult& bad = by_name.at("rev1/sub/flipped.safetensors");
  EXPECT_EQ(bad.outcome, VerifyOutcome::kMismatch);
  EXPECT_EQ(bad.expected_hex, flipped_blob);
  EXPECT_EQ(bad.actual_hex, Sha256sumOf(repo + "/blobs/" + flipped_blob));

  const VerifyResult& gone = by_name.at("rev1/gone.safetensors");
  EXPECT_EQ(gone.outcome, VerifyOutcome::kMissing);
  EXPECT_EQ(gone.expected_hex, gone_blob);

  EXPECT_EQ(by_name.at("rev1/README.md").outcome, VerifyOutcome::kUnverifiable);
  // The FIFO is no blob either: named, never opened.
  EXPECT_EQ(by_name.at("rev1/pipe").outcome, VerifyOutcome::kUnverifiable);

  // The blob both snapshots share counts once in the progress total.
  EXPECT_EQ(last_total, weights.size() + 5000 + 19);
  EXPECT_EQ(last_done, last_total);
  EXPECT_GT(calls, 2);
}

// A FIFO or socket standing where a blob should be is an error, at once;
// a snapshot directory and a single link are targets too.
TEST(VerifyTest, SpecialFilesAsBlobsAreErrorsWithoutBlocking) {
  const std::string repo = NewTempDir("models--special");
  fs::create_directories(repo + "/blobs");
  fs::create_directories(repo + "/snapshots/rev");
  int n = 0;
  for (testing::SpecialFile kind : testing::AllSpecialFiles()) {
    const std::string blob = std::string(63, 'b') + std::to_string(n++);
    testing::MakeSpecialFile(kind, repo + "/blobs/" + blob);
    LinkHubSnapshot(repo, "rev", testing::SpecialFileName(kind)[0] == '/' ? "zero" : testing::SpecialFileName(kind), blob);
  }
  testing::Watchdog watchdog("verify of special files as blobs");
  ASSERT_OK_AND_ASSIGN(std::vector<VerifyTarget> targets, FindVerifyTargets(repo + "/snapshots/rev"));
  ASSERT_EQ(targets.size(), 4u);
  for (const VerifyResult& r : VerifyFiles(targets)) {
    SCOPED_TRACE(r.shown);
    if (r.shown == repo + "/snapshots/rev/zero" || r.shown == repo + "/snapshots/rev/symlink loop") {
      // /dev/zero's link and a loop: realpath resolves /dev/zero (no blob
      // name) and fails on the loop (the link's target names the blob).
      EXPECT_NE(r.outcome, VerifyOutcome::kOk);
      continue;
    }
    EXPECT_EQ(r.outcome, VerifyOutcome::kError);
    EXPECT_THAT(r.error, HasErrorCode(ErrorCode::kNotRegularFile));
  }
  ASSERT_OK_AND_ASSIGN(std::vector<VerifyTarget> one,
                       FindVerifyTargets(repo + "/snapshots/rev/FIFO"));
  ASSERT_EQ(one.size(), 1u);
  EXPECT_TRUE(one[0].expected.has_value());
  ASSERT_OK_AND_ASSIGN(std::vector<VerifyTarget> nothing, FindVerifyTargets(repo + "/nothing"));
  ASSERT_EQ(nothing.size(), 1u);
  EXPECT_EQ(VerifyFiles(nothing)[0].outcome, VerifyOutcome::kMissing);
}

TEST(VerifyTest, DigestFromBlobName) {
  EXPECT_EQ(DigestFromBlobName(std::string(64, 'A'))->hex, std::string(64, 'a'));
  EXPECT_EQ(DigestFromBlobName(std::string(64, '0'))->digest, Digest::kSha256);
  EXPECT_EQ(DigestFromBlobName(std::string(40, 'f'))->digest, Digest::kGitBlobId);
  EXPECT_FALSE(DigestFromBlobName(std::string(63, '0')).has_value());
  EXPECT_FALSE(DigestFromBlobName(std::string(63, '0') + "g").has_value());
  EXPECT_FALSE(DigestFromBlobName("model.safetensors").has_value());
}

}  // namespace
}  // namespace safetensors

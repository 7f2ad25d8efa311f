#include "io/atomic_file.h"

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "parser/status_macros.h"
#include "parser/status_matchers.h"
#include "testdata/test_files.h"

namespace safetensors {
namespace {

namespace fs = std::filesystem;
using ::safetensors::testing::HasErrorCode;
using ::safetensors::testing::NewTempDir;
using ::safetensors::testing::ReadTestFile;
using ::testing::IsEmpty;
using ::testing::SizeIs;

absl::Status WriteAtomically(const std::string& path, const std::string& bytes) {
  SAFETENSORS_ASSIGN_OR_RETURN(AtomicFileWriter writer, AtomicFileWriter::Create(path));
  SAFETENSORS_RETURN_IF_ERROR(writer.Append(bytes));
  return writer.Commit();
}

std::vector<std::string> Entries(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename());
  return names;
}

mode_t ModeOf(const std::string& path) {
  struct stat st;
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

TEST(AtomicFileWriterTest, WritesAndReplaces) {
  const std::string dir = NewTempDir("replace");
  const std::string path = dir + "/model.safetensors";
  ASSERT_OK(WriteAtomically(path, "first"));
  ASSERT_OK(WriteAtomically(path, "second version"));
  EXPECT_EQ(ReadTestFile(path), "second version");
  EXPECT_THAT(Entries(dir), SizeIs(1));
}

TEST(AtomicFileWriterTest, WithoutCommitNothingChangesAndNothingIsLeft) {
  const std::string dir = NewTempDir("abandon");
  const std::string path = dir + "/model.safetensors";
  ASSERT_OK(WriteAtomically(path, "old"));
  {
    ASSERT_OK_AND_ASSIGN(AtomicFileWriter writer, AtomicFileWriter::Create(path));
    ASSERT_OK(writer.Append("half of the new"));
    EXPECT_TRUE(fs::exists(writer.temp_path()));
  }
  EXPECT_EQ(ReadTestFile(path), "old");
  EXPECT_THAT(Entries(dir), SizeIs(1));
}

TEST(AtomicFileWriterTest, MissingDirectoryIsAnIoError) {
  EXPECT_THAT(AtomicFileWriter::Create(::testing::TempDir() + "/no/such/dir/x"),
              HasErrorCode(ErrorCode::kIoError));
}

TEST(AtomicFileWriterTest, ReplacingKeepsTheTargetsMode) {
  const std::string dir = NewTempDir("mode");
  const std::string path = dir + "/private.safetensors";
  ASSERT_OK(WriteAtomically(path, "secret"));
  ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
  ASSERT_OK(WriteAtomically(path, "secret, re-saved"));
  EXPECT_EQ(ModeOf(path), 0600u);
  ASSERT_EQ(::chmod(path.c_str(), 0640), 0);
  ASSERT_OK(WriteAtomically(path, "shared with the group"));
  EXPECT_EQ(ModeOf(path), 0640u);
}

TEST(AtomicFileWriterTest, NewFileFollowsTheUmask) {
  const std::string dir = NewTempDir("umask");
  const mode_t old_mask = ::umask(027);
  const absl::Status status = WriteAtomically(dir + "/new.safetensors", "x");
  ::umask(old_mask);
  ASSERT_OK(status);
  EXPECT_EQ(ModeOf(dir + "/new.safetensors"), 0640u);
}

TEST(AtomicFileWriterTest, TargetNameAtTheLengthLimit) {
  const std::string dir = NewTempDir("long");
  const std::string name = std::string(245, 'n') + ".safetensors";  // 257 bytes: too long
  EXPECT_THAT(WriteAtomically(dir + "/" + name, "x"), HasErrorCode(ErrorCode::kIoError));
  const std::string longest = std::string(243, 'n') + ".safetensors";  // 255 bytes
  ASSERT_OK(WriteAtomically(dir + "/" + longest, "x"));
  EXPECT_EQ(ReadTestFile(dir + "/" + longest), "x");
  EXPECT_THAT(Entries(dir), SizeIs(1));
}

TEST(TemporaryNameForTest, StaysWithinTheNameLimitAndCutsAtCharacters) {
  const std::string unique = "12345-0123456789abcdef";
  EXPECT_EQ(TemporaryNameFor("a/b/model.safetensors", unique),
            "a/b/model.safetensors.tmp-" + unique);
  EXPECT_EQ(TemporaryNameFor("model", unique), "model.tmp-" + unique);
  // 120 two-byte characters (240 bytes): cut to fit, never inside a character.
  std::string name;
  for (int i = 0; i < 120; ++i) name += "\xC3\xA9";
  const std::string temp = TemporaryNameFor("/d/" + name, unique);
  const std::string last = temp.substr(3);
  EXPECT_LE(last.size(), 255u);
  EXPECT_TRUE(absl::EndsWith(last, ".tmp-" + unique));
  const std::string kept = last.substr(0, last.size() - unique.size() - 5);
  EXPECT_EQ(kept.size() % 2, 0u);
  EXPECT_EQ(kept, name.substr(0, kept.size()));
}

// Kills a process that is replacing a large file at random moments, many
// times: the target must always be the complete old or the complete new
// contents, whatever temporary file the kill leaves, and a later save works.
TEST(AtomicFileWriterTest, KilledWriterLeavesOldOrNewNeverAMixture) {
  const std::string dir = NewTempDir("killed");
  const std::string path = dir + "/big.safetensors";
  constexpr size_t kSize = size_t{24} << 20;
  std::string a(kSize, 'a'), b(kSize, 'b');
  for (size_t i = 0; i < kSize; i += 4096) b[i] = static_cast<char>(i / 4096);
  ASSERT_OK(WriteAtomically(path, a));
  const std::string* current = &a;
  std::mt19937 random(20261126);
  int saw_old = 0, saw_new = 0;
  for (int round = 0; round < 30; ++round) {
    const std::string* next = current == &a ? &b : &a;
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      // The child writes in 1 MiB pieces so the kill can land mid-file.
      absl::StatusOr<AtomicFileWriter> writer = AtomicFileWriter::Create(path);
      if (!writer.ok()) ::_exit(2);
      for (size_t at = 0; at < next->size(); at += size_t{1} << 20) {
        if (!writer->Append(absl::string_view(*next).substr(at, size_t{1} << 20)).ok()) {
          ::_exit(3);
        }
      }
      ::_exit(writer->Commit().ok() ? 0 : 4);
    }
    std::this_thread::sleep_for(std::chrono::microseconds(random() % 80000));
    ::kill(child, SIGKILL);
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) == 0))
        << "child failed with " << status;
    const std::string now = ReadTestFile(path);
    ASSERT_TRUE(now == *current || now == *next)
        << "round " << round << ": neither old nor new (" << now.size() << " bytes)";
    if (now == *next) {
      ++saw_new;
      current = next;
    } else {
      ++saw_old;
    }
    // Leftovers are the killed writers' temporaries, recognisable by name.
    for (const std::string& name : Entries(dir)) {
      if (name != "big.safetensors") {
        EXPECT_TRUE(absl::StartsWith(name, "big.safetensors.tmp-")) << name;
      }
    }
  }
  // Both outcomes happened, so the kills landed before and after the rename.
  EXPECT_GT(saw_old, 0);
  EXPECT_GT(saw_new, 0);
  // A later save still works, and the leftovers can be removed.
  ASSERT_OK(WriteAtomically(path, "after the storm"));
  EXPECT_EQ(ReadTestFile(path), "after the storm");
  std::printf("killed saves: target old %d times, new %d times\n", saw_old, saw_new);
}

}  // namespace
}  // namespace safetensors

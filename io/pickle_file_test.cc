#include "io/pickle_file.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "io/test_util.h"
#include "parser/error.h"
#include "parser/status_matchers.h"
#include "testdata/test_files.h"

namespace safetensors {
namespace {

using ::safetensors::testing::AllSpecialFiles;
using ::safetensors::testing::HasErrorCode;
using ::safetensors::testing::IsOk;
using ::safetensors::testing::IsOkAndHolds;
using ::safetensors::testing::MakeSpecialFile;
using ::safetensors::testing::NewTempDir;
using ::safetensors::testing::SpecialFile;
using ::safetensors::testing::SpecialFileName;
using ::safetensors::testing::Watchdog;
using ::testing::HasSubstr;

TEST(PickleFileTest, OpensAndReadsATorchSaveFile) {
  const absl::StatusOr<PickleCheckpointFile> f = OpenPickleCheckpoint("testdata/pickle/views.pt", {});
  ASSERT_THAT(f, IsOk());
  EXPECT_EQ(f->mapping->bytes().size(), f->file->size());
  EXPECT_EQ(f->table.tensors.size(), 9u);
  EXPECT_THAT(IsPickleCheckpointFile("testdata/pickle/views.pt"), IsOkAndHolds(true));
  EXPECT_THAT(IsPickleCheckpointFile("testdata/pickle/legacy.pt"), IsOkAndHolds(true));
  // A pickle without torch's magic number, a safetensors file and an empty
  // file are not torch.save files.
  EXPECT_THAT(IsPickleCheckpointFile("testdata/pickle/plain_pickle.pt"), IsOkAndHolds(false));
  const std::string empty = testing::WriteTempFile("empty.pt", "");
  EXPECT_THAT(IsPickleCheckpointFile(empty), IsOkAndHolds(false));
}

TEST(PickleFileTest, RefusalsNameThePath) {
  const absl::StatusOr<PickleCheckpointFile> f = OpenPickleCheckpoint("testdata/pickle/os_system.pt", {});
  EXPECT_THAT(f, HasErrorCode(ErrorCode::kRefusedGlobal));
  EXPECT_THAT(std::string(f.status().message()), HasSubstr("global \"os.system\" at byte 66"));
}

TEST(PickleFileTest, RefusesWhatIsNotARegularFileWithoutBlocking) {
  const std::string dir = NewTempDir("pickle_special");
  for (SpecialFile kind : AllSpecialFiles()) {
    SCOPED_TRACE(SpecialFileName(kind));
    const std::string path = dir + "/pytorch_model.bin." + std::to_string(static_cast<int>(kind));
    MakeSpecialFile(kind, path);
    Watchdog watchdog(std::string("OpenPickleCheckpoint of a ") + SpecialFileName(kind));
    const ErrorCode expected =
        kind == SpecialFile::kSymlinkLoop ? ErrorCode::kIoError : ErrorCode::kNotRegularFile;
    EXPECT_THAT(OpenPickleCheckpoint(path, {}), HasErrorCode(expected));
    EXPECT_THAT(IsPickleCheckpointFile(path), HasErrorCode(expected));
  }
}

}  // namespace
}  // namespace safetensors

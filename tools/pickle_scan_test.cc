// `check` and `inspect` of torch.save checkpoints through the CLI's entry
// point, as a user runs them; torch-free, like the commands.
#include "tools/pickle_scan.h"

#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "io/test_util.h"
#include "testdata/test_files.h"
#include "tools/cli.h"

namespace safetensors {
namespace cli {
namespace {

using ::safetensors::testing::AllSpecialFiles;
using ::safetensors::testing::MakeSpecialFile;
using ::safetensors::testing::NewTempDir;
using ::safetensors::testing::ReadTsv;
using ::safetensors::testing::SpecialFile;
using ::safetensors::testing::SpecialFileName;
using ::safetensors::testing::Watchdog;
using ::testing::HasSubstr;

struct Result {
  int code;
  std::string out, err;
};

int NoValueCommands(const std::vector<std::string>&, std::ostream&, std::ostream& err) {
  err << "value commands are not linked here\n";
  return kExitUsage;
}

Result RunCli(std::vector<std::string> args) {
  std::ostringstream out, err;
  const int code = Run(args, out, err, &NoValueCommands);
  return {code, out.str(), err.str()};
}

constexpr char kDir[] = "testdata/pickle/";
constexpr char kPayloadMark[] = "/tmp/safetensors-cpp-pickle-payload-ran";

// check exits 1 on every refusal, naming its code, as a scanner in a pipeline
// must; 0 on every valid file; and no payload runs.
TEST(PickleScanTest, CheckGivesEveryManifestVerdict) {
  std::filesystem::remove(kPayloadMark);
  for (const auto& row : ReadTsv(std::string(kDir) + "manifest.tsv")) {
    SCOPED_TRACE(row[0]);
    const Result r = RunCli({"check", "--json", kDir + row[0]});
    if (row[1] == "OK") {
      EXPECT_EQ(r.code, kExitOk) << r.out << r.err;
      EXPECT_THAT(r.out, HasSubstr("\"ok\":true"));
    } else {
      EXPECT_EQ(r.code, kExitProblem) << r.out << r.err;
      EXPECT_THAT(r.out, HasSubstr(absl::StrCat("\"code\":\"", row[1], "\"")));
    }
  }
  EXPECT_FALSE(std::filesystem::exists(kPayloadMark));
}

TEST(PickleScanTest, CheckNamesTheRefusedGlobal) {
  const Result r = RunCli({"check", std::string(kDir) + "fickling_exec.pt"});
  EXPECT_EQ(r.code, kExitProblem);
  EXPECT_THAT(r.out, HasSubstr("INVALID [RefusedGlobal]"));
  EXPECT_THAT(r.out, HasSubstr("global \"builtins.exec\" at byte 66"));
}

TEST(PickleScanTest, SkipUnknownWarnsAndPasses) {
  const Result refused = RunCli({"check", std::string(kDir) + "quantized.pt"});
  EXPECT_EQ(refused.code, kExitProblem);
  const Result r = RunCli({"check", "--skip-unknown", std::string(kDir) + "quantized.pt"});
  EXPECT_EQ(r.code, kExitOk) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("warning: skipped \"q\": object made by torch._utils._rebuild_qtensor"));
  const Result json = RunCli({"check", "--json", "--skip-unknown", std::string(kDir) + "quantized.pt"});
  EXPECT_THAT(json.out, HasSubstr("{\"name\":\"torch._utils._rebuild_qtensor\",\"allowed\":false"));
}

TEST(PickleScanTest, InspectShowsTheTablesAndOtherValues) {
  const Result r = RunCli({"inspect", std::string(kDir) + "trainer.ckpt"});
  ASSERT_EQ(r.code, kExitOk) << r.err;
  EXPECT_THAT(r.out, HasSubstr("torch-zip, folder \"trainer\", little-endian; read as data, nothing run"));
  EXPECT_THAT(r.out, HasSubstr("tensors (from \"state_dict\")"));
  EXPECT_THAT(r.out, HasSubstr("layer.weight  F32"));
  EXPECT_THAT(r.out, HasSubstr("epoch: int 3"));
  EXPECT_THAT(r.out, HasSubstr("total: 2 tensors, 12 parameters, 48 bytes"));

  const Result json = RunCli({"inspect", "--json", "--filter", "^row$", std::string(kDir) + "views.pt"});
  ASSERT_EQ(json.code, kExitOk) << json.err;
  EXPECT_THAT(json.out, HasSubstr("\"format\":\"torch-zip\",\"byteorder\":\"little\",\"archive_prefix\":\"views\""));
  EXPECT_THAT(json.out, HasSubstr("\"tensors\":[{\"name\":\"row\",\"dtype\":\"F32\",\"shape\":[6],"
                                  "\"strides\":[1],\"storage\":\"0\",\"storage_offset\":6,\"bytes\":24,"
                                  "\"parameter\":false}]"));

  const Result legacy = RunCli({"inspect", std::string(kDir) + "legacy.pt"});
  ASSERT_EQ(legacy.code, kExitOk) << legacy.err;
  EXPECT_THAT(legacy.out, HasSubstr("torch-legacy, little-endian"));

  const Result refused = RunCli({"inspect", std::string(kDir) + "os_system.pt"});
  EXPECT_EQ(refused.code, kExitProblem);
  EXPECT_THAT(refused.err, HasSubstr("\"os.system\""));
}

// A sharded torch.save checkpoint (its directory or its index) is checked
// whole: every shard, and the index against them.
TEST(PickleScanTest, CheckAndInspectTakeShardedCheckpoints) {
  for (const std::string& path : {std::string(kDir) + "sharded",
                                  std::string(kDir) + "sharded/pytorch_model.bin.index.json"}) {
    SCOPED_TRACE(path);
    const Result r = RunCli({"check", path});
    EXPECT_EQ(r.code, kExitOk) << r.out << r.err;
    EXPECT_THAT(r.out, HasSubstr(": OK, checkpoint of 2 shards, 7 tensors"));
    EXPECT_THAT(r.out, HasSubstr("  shard pytorch_model-00001-of-00002.bin: OK, torch-zip, 4 tensors over"));
    const Result json = RunCli({"check", "--json", path});
    EXPECT_EQ(json.code, kExitOk);
    EXPECT_THAT(json.out, HasSubstr("\"shards\":[{\"file\":\"pytorch_model-00002-of-00002.bin\",\"ok\":true"));
    EXPECT_THAT(json.out, HasSubstr("\"format\":\"torch-zip\""));
  }
  const Result inspect = RunCli({"inspect", std::string(kDir) + "sharded"});
  ASSERT_EQ(inspect.code, kExitOk) << inspect.err;
  EXPECT_THAT(inspect.out, HasSubstr("checkpoint: testdata/pickle/sharded (2 torch.save shards, 7 tensors"));
  EXPECT_THAT(inspect.out, HasSubstr("file: pytorch_model-00001-of-00002.bin ("));
  EXPECT_THAT(inspect.out, HasSubstr("layers.0.weight"));
  const Result inspect_json = RunCli({"inspect", "--json", "--filter", "^head", std::string(kDir) + "sharded"});
  ASSERT_EQ(inspect_json.code, kExitOk) << inspect_json.err;
  EXPECT_THAT(inspect_json.out, HasSubstr("{\"checkpoint\":\"testdata/pickle/sharded\","
                                          "\"index\":\"pytorch_model.bin.index.json\",\"shards\":[{\"file\":"));
  EXPECT_THAT(inspect_json.out, HasSubstr("\"name\":\"head.weight\""));
  EXPECT_THAT(inspect_json.out, ::testing::Not(HasSubstr("\"name\":\"layers.0.weight\"")));

  // A malicious shard: the whole refused, that shard's verdict naming the
  // global, the other shard's OK; nothing ran.
  std::filesystem::remove(kPayloadMark);
  const std::string dir = NewTempDir("scan_bad_shard");
  for (const char* name : {"pytorch_model.bin.index.json", "pytorch_model-00001-of-00002.bin"}) {
    testing::WriteTempFile(std::string("scan_bad_shard/") + name, testing::ReadTestFile(std::string(kDir) + "sharded/" + name));
  }
  testing::WriteTempFile("scan_bad_shard/pytorch_model-00002-of-00002.bin",
                         testing::ReadTestFile(std::string(kDir) + "fickling_exec.pt"));
  const Result bad = RunCli({"check", dir});
  EXPECT_EQ(bad.code, kExitProblem) << bad.out;
  EXPECT_THAT(bad.out, HasSubstr(": INVALID [RefusedGlobal]: shard \"pytorch_model-00002-of-00002.bin\""));
  EXPECT_THAT(bad.out, HasSubstr("  shard pytorch_model-00002-of-00002.bin: INVALID [RefusedGlobal]: global "
                                 "\"builtins.exec\" at byte 66"));
  EXPECT_THAT(bad.out, HasSubstr("  shard pytorch_model-00001-of-00002.bin: OK, torch-zip"));
  const Result bad_inspect = RunCli({"inspect", dir});
  EXPECT_EQ(bad_inspect.code, kExitProblem);
  EXPECT_THAT(bad_inspect.err, HasSubstr("\"builtins.exec\""));
  EXPECT_FALSE(std::filesystem::exists(kPayloadMark));
}

TEST(PickleScanTest, ConvertWritesWhatCheckAccepts) {
  const std::string dir = NewTempDir("convert_cli");
  const Result r = RunCli({"convert", std::string(kDir) + "tied.pt", dir + "/tied.safetensors"});
  ASSERT_EQ(r.code, kExitOk) << r.err;
  EXPECT_THAT(r.out, HasSubstr("3 tensors, 394 bytes; 2 shared names recorded in the metadata "
                               "(\"head.weight\" -> \"embed.weight\", \"top\" -> \"embed.weight\")"));
  EXPECT_EQ(RunCli({"check", dir + "/tied.safetensors"}).code, kExitOk);

  const Result sharded = RunCli({"convert", std::string(kDir) + "sharded", dir + "/sharded"});
  ASSERT_EQ(sharded.code, kExitOk) << sharded.err;
  EXPECT_THAT(sharded.out, HasSubstr("2 shards and model.safetensors.index.json, 7 tensors"));
  const Result checked = RunCli({"check", dir + "/sharded"});
  EXPECT_EQ(checked.code, kExitOk) << checked.out;
  EXPECT_THAT(checked.out, HasSubstr("OK, checkpoint of 2 shards, 7 tensors"));

  const Result refused = RunCli({"convert", std::string(kDir) + "fickling_exec.pt", dir + "/bad.safetensors"});
  EXPECT_EQ(refused.code, kExitProblem);
  EXPECT_THAT(refused.err, HasSubstr("global \"builtins.exec\" at byte 66"));
  EXPECT_FALSE(std::filesystem::exists(dir + "/bad.safetensors"));
  EXPECT_FALSE(std::filesystem::exists(kPayloadMark));

  EXPECT_EQ(RunCli({"convert", std::string(kDir) + "tied.pt"}).code, kExitUsage);
}

TEST(PickleScanTest, NonRegularFilesNamedLikeCheckpointsNeverBlock) {
  const std::string dir = NewTempDir("pickle_scan_special");
  for (SpecialFile kind : AllSpecialFiles()) {
    SCOPED_TRACE(SpecialFileName(kind));
    const std::string path = dir + "/pytorch_model.bin." + std::to_string(static_cast<int>(kind));
    MakeSpecialFile(kind, path);
    Watchdog watchdog(std::string("check and inspect of a ") + SpecialFileName(kind));
    EXPECT_NE(RunCli({"check", path}).code, kExitOk);
    EXPECT_NE(RunCli({"inspect", path}).code, kExitOk);
    EXPECT_NE(RunCli({"convert", path, dir + "/out.safetensors"}).code, kExitOk);
  }
}

}  // namespace
}  // namespace cli
}  // namespace safetensors

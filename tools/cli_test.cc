#include "tools/cli.h"

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <ATen/ops/arange.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "io/test_util.h"
#include "parser/header_writer.h"
#include "parser/status_matchers.h"
#include "testdata/test_files.h"
#include "tools/value_commands.h"
#include "torch_io/checkpoint.h"
#include "torch_io/safetensors.h"

namespace safetensors {
namespace cli {
namespace {

using ::safetensors::testing::ReadTestFile;
using ::safetensors::testing::ReadTsv;
using ::safetensors::testing::WriteTempFile;
using ::testing::HasSubstr;
using ::testing::Not;

struct Result {
  int code;
  std::string out, err;
};

Result RunCli(std::vector<std::string> args) {
  std::ostringstream out, err;
  const int code = Run(args, out, err, &RunValueCommand);
  return {code, out.str(), err.str()};
}

constexpr char kExample[] = "testdata/example_mlp.safetensors";
constexpr char kConformance[] = "testdata/conformance/files/";

std::string Frame(const std::string& json, const std::string& data) {
  std::string out(8, '\0');
  for (size_t i = 0; i < 8; ++i) out[i] = static_cast<char>((json.size() >> (8 * i)) & 0xFF);
  return out + json + data;
}

TEST(CliTest, CheckJsonAgreesWithEveryConformanceRow) {
  int rows = 0;
  for (const auto& row : ReadTsv("testdata/conformance/expected.tsv")) {
    SCOPED_TRACE(row[0]);
    ++rows;
    const Result r = RunCli({"check", "--json", std::string(kConformance) + row[0]});
    ASSERT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out;
    if (row[3] == "OK") {
      EXPECT_EQ(r.code, kExitOk);
      EXPECT_THAT(r.out, HasSubstr("\"ok\":true,\"code\":null,\"reference_class\":null"));
    } else if (row[1] == "ERR") {
      EXPECT_EQ(r.code, kExitProblem);
      EXPECT_THAT(r.out, HasSubstr(absl::StrCat("\"reference_class\":\"", row[2], "\"")));
    } else {  // stricter than the reference
      EXPECT_EQ(r.code, kExitProblem);
      EXPECT_THAT(r.out, HasSubstr("\"ok\":false"));
      EXPECT_THAT(r.out, ::testing::AnyOf(HasSubstr("\"code\":\"DuplicateKey\""),
                                          HasSubstr("\"code\":\"InvalidSchema\""),
                                          HasSubstr("\"code\":\"ValidationOverflow\"")));
    }
    EXPECT_THAT(r.out, HasSubstr("\"tensors\":"));
    EXPECT_THAT(r.out, HasSubstr("\"bytes\":"));
  }
  EXPECT_GE(rows, 201);
}

TEST(CliTest, CheckExitCodes) {
  const std::string ok = std::string(kConformance) + "ok_basic.safetensors";
  const std::string bad = std::string(kConformance) + "bad_overlap.safetensors";
  EXPECT_EQ(RunCli({"check", ok, kExample}).code, kExitOk);
  Result r = RunCli({"check", ok, bad});
  EXPECT_EQ(r.code, kExitProblem);
  EXPECT_THAT(r.out, HasSubstr("bad_overlap.safetensors: INVALID [InvalidOffset"));
  EXPECT_THAT(r.out, HasSubstr("ok_basic.safetensors: OK"));
  r = RunCli({"check", ok, "testdata/no_such_file.safetensors"});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_THAT(r.out, HasSubstr("no_such_file.safetensors: ERROR: cannot open"));
  EXPECT_EQ(RunCli({"check"}).code, kExitUsage);
  EXPECT_EQ(RunCli({"check", "--bogus", ok}).code, kExitUsage);
  EXPECT_EQ(RunCli({"check", "--strict=maybe", ok}).code, kExitUsage);
}

TEST(CliTest, StrictReportsHygieneAndFailsOnlyWhenAsked) {
  // Unpadded header, F32 at an odd offset, BOOL before F32 (not canonical),
  // and an unknown field: valid, but untidy.
  const std::string json =
      R"({"a":{"dtype":"BOOL","shape":[1],"data_offsets":[0,1],"note":1},)"
      R"("b":{"dtype":"F32","shape":[1],"data_offsets":[1,5]}})";
  const std::string path = WriteTempFile("untidy.safetensors", Frame(json, std::string(5, '\0')));
  Result plain = RunCli({"check", path});
  EXPECT_EQ(plain.code, kExitOk);
  EXPECT_THAT(plain.out, Not(HasSubstr("warning")));
  Result warn = RunCli({"check", "--strict", path});
  EXPECT_EQ(warn.code, kExitOk);
  EXPECT_THAT(warn.out, HasSubstr("warning: header is not padded to a multiple of 8 bytes"));
  EXPECT_THAT(warn.out, HasSubstr("warning: tensor \"a\" has unknown field \"note\""));
  EXPECT_THAT(warn.out, HasSubstr("not in the canonical writer's order"));
  EXPECT_THAT(warn.out, HasSubstr("tensor \"b\" (F32) starts at byte"));
  EXPECT_EQ(RunCli({"check", "--strict=warn", path}).code, kExitOk);
  EXPECT_EQ(RunCli({"check", "--strict=error", path}).code, kExitProblem);
  Result json_out = RunCli({"check", "--json", "--strict", path});
  EXPECT_THAT(json_out.out, HasSubstr("\"warnings\":[\"header is not padded"));
  // A file written by the canonical writer has nothing to report.
  EXPECT_EQ(RunCli({"check", "--strict=error", kExample}).code, kExitOk);
}

TEST(CliTest, InspectShowsMetadataTensorsAndTotals) {
  Result r = RunCli({"inspect", kExample});
  EXPECT_EQ(r.code, kExitOk) << r.err;
  EXPECT_THAT(r.out, HasSubstr("\"model\": \"ExampleMLP\""));
  EXPECT_THAT(r.out, HasSubstr("fc1.weight  F32          [16, 4]"));
  EXPECT_THAT(r.out, HasSubstr("total: 4 tensors, 131 parameters, 524 bytes"));
  r = RunCli({"inspect", "--filter", "^fc1\\.", kExample});
  EXPECT_THAT(r.out, HasSubstr("total: 2 tensors, 80 parameters"));
  EXPECT_THAT(r.out, Not(HasSubstr("fc2.")));
  r = RunCli({"inspect", "--json", kExample});
  EXPECT_THAT(r.out, HasSubstr("{\"name\":\"fc1.bias\",\"dtype\":\"F32\",\"shape\":[16],\"bytes\":64,\"offset\":0}"));
  EXPECT_THAT(r.out, HasSubstr("\"totals\":{\"tensors\":4,\"parameters\":131,\"bytes\":524,\"bytes_by_dtype\":{\"F32\":524}}"));
  EXPECT_EQ(RunCli({"inspect", std::string(kConformance) + "bad_overlap.safetensors"}).code,
            kExitProblem);
  EXPECT_EQ(RunCli({"inspect", "testdata/missing.safetensors"}).code, kExitUsage);
  EXPECT_EQ(RunCli({"inspect", "--filter", "(", kExample}).code, kExitProblem);
  EXPECT_EQ(RunCli({"inspect"}).code, kExitUsage);
}

TEST(CliTest, InspectOfATenGigabyteSparseFileReadsTheHeaderOnly) {
  const uint64_t size = 10'000'000'000ULL;
  ASSERT_OK_AND_ASSIGN(SerializedHeader header,
                       SerializeHeader({{"huge", Dtype::kU8, {size}}}, MetadataEntries{{"k", "v"}}));
  const std::string path = ::testing::TempDir() + "/sparse.safetensors";
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, header.bytes.data(), header.bytes.size()),
            static_cast<ssize_t>(header.bytes.size()));
  ASSERT_EQ(::ftruncate(fd, static_cast<off_t>(header.bytes.size() + size)), 0);
  ::close(fd);
  const Result r = RunCli({"inspect", path});
  EXPECT_EQ(r.code, kExitOk) << r.err;
  EXPECT_THAT(r.out, HasSubstr("total: 1 tensors, 10000000000 parameters, 10000000000 bytes"));
  EXPECT_EQ(RunCli({"check", path}).code, kExitOk);
  ::unlink(path.c_str());
}

TEST(CliTest, DumpPrintsValuesAndStatistics) {
  Result r = RunCli({"dump", kExample, "fc2.bias"});
  EXPECT_EQ(r.code, kExitOk) << r.err;
  EXPECT_THAT(r.out, HasSubstr("dtype: F32\nshape: [3]\n"));
  EXPECT_THAT(r.out, HasSubstr("values: [0.18663338, -0.088523865, 0.14583185]"));
  EXPECT_THAT(r.out, HasSubstr("nan: 0\ninf: 0"));
  r = RunCli({"dump", "--limit", "2", kExample, "fc1.weight"});
  EXPECT_THAT(r.out, HasSubstr("values (first 2): ["));
  // Special values and a dtype with no arithmetic.
  TensorDict tensors;
  tensors.insert("odd", at::arange(4, at::TensorOptions().dtype(at::kFloat)).log().neg());  // inf, -0, ...
  const std::string path = ::testing::TempDir() + "/special.safetensors";
  ASSERT_OK(save_file(tensors, path));
  r = RunCli({"dump", path, "odd"});
  EXPECT_THAT(r.out, HasSubstr("inf: 1"));
  r = RunCli({"dump", "testdata/golden/dtype_float4_e2m1fn_x2.safetensors", "values"});
  EXPECT_EQ(r.code, kExitOk);
  EXPECT_THAT(r.out, HasSubstr("not convertible to numbers"));
  r = RunCli({"dump", kExample, "nope"});
  EXPECT_EQ(r.code, kExitProblem);
  EXPECT_THAT(r.err, HasSubstr("no tensor named \"nope\""));
  EXPECT_EQ(RunCli({"dump", kExample}).code, kExitUsage);
  EXPECT_EQ(RunCli({"dump", "--limit", "-1", kExample, "fc2.bias"}).code, kExitUsage);
}

TEST(CliTest, DiffReportsEachKindOfDifference) {
  Result same = RunCli({"diff", kExample, kExample});
  EXPECT_EQ(same.code, kExitOk);
  EXPECT_THAT(same.out, HasSubstr("identical: 4 tensors"));
  ASSERT_OK_AND_ASSIGN(TensorDict tensors, load(ReadTestFile(kExample)));
  TensorDict changed;
  changed.insert("fc1.weight", tensors["fc1.weight"].clone().add(0.5));
  changed.insert("fc2.bias", tensors["fc2.bias"].reshape({1, 3}));
  changed.insert("extra", tensors["fc1.bias"].clone());
  const std::string other = ::testing::TempDir() + "/changed.safetensors";
  ASSERT_OK(save_file(changed, other));
  Result r = RunCli({"diff", kExample, other});
  EXPECT_EQ(r.code, kExitProblem);
  EXPECT_THAT(r.out, HasSubstr("only in A: \"fc1.bias\""));
  EXPECT_THAT(r.out, HasSubstr("only in B: \"extra\""));
  EXPECT_THAT(r.out, HasSubstr("layout differs: \"fc2.bias\": F32[3] vs F32[1, 3]"));
  EXPECT_THAT(r.out, HasSubstr("values differ: \"fc1.weight\": max abs difference 0.5"));
  EXPECT_THAT(r.out, HasSubstr("metadata differs"));
  EXPECT_EQ(RunCli({"diff", kExample}).code, kExitUsage);
  EXPECT_EQ(RunCli({"diff", kExample, "testdata/missing.safetensors"}).code, kExitUsage);
}

// Tensor names and metadata are file-controlled: a name holding escape
// sequences, backspaces or carriage returns must not reach the terminal raw
// from any command (it could recolour it, clear it, or hide another row).
TEST(CliTest, FileControlledTextNeverReachesTheTerminalRaw) {
  const std::string evil = "\x1b[2J\x1b[31mevil\r\bfc1.weight\xE2\x80\xAE\xC2\x9B";
  TensorDict tensors;
  tensors.insert(evil, at::arange(3, at::TensorOptions().dtype(at::kFloat)));
  tensors.insert("plain", at::arange(2, at::TensorOptions().dtype(at::kFloat)));
  const std::string path = ::testing::TempDir() + "/evil.safetensors";
  ASSERT_OK(save_file(tensors, path, MetadataEntries{{"\x1b]0;title\x07", "\r\x1b[1A"}}));
  TensorDict other;
  other.insert(evil, at::arange(3, at::TensorOptions().dtype(at::kFloat)).add(1));
  const std::string other_path = ::testing::TempDir() + "/evil2.safetensors";
  ASSERT_OK(save_file(other, other_path));
  auto raw_control = [](const std::string& text) {
    for (size_t i = 0; i < text.size(); ++i) {
      const unsigned char c = static_cast<unsigned char>(text[i]);
      if ((c < 0x20 && c != '\n') || c == 0x7F) return true;
      if (c == 0xC2 && i + 1 < text.size() && (static_cast<unsigned char>(text[i + 1]) & 0xE0) == 0x80) {
        return true;
      }
      if (text.compare(i, 3, "\xE2\x80\xAE") == 0) return true;
    }
    return false;
  };
  const std::vector<std::vector<std::string>> commands = {
      {"inspect", path},
      {"inspect", "--json", path},
      {"check", "--strict", path},
      {"dump", path, evil},
      {"diff", path, other_path},
  };
  for (const auto& command : commands) {
    SCOPED_TRACE(command[0]);
    const Result r = RunCli(command);
    EXPECT_FALSE(raw_control(r.out)) << r.out;
    EXPECT_FALSE(raw_control(r.err)) << r.err;
  }
  const Result table = RunCli({"inspect", path});
  EXPECT_THAT(table.out, HasSubstr("\\x1b[2J\\x1b[31mevil\\x0d\\x08fc1.weight\\u202e\\u009b  F32"));
  EXPECT_THAT(table.out, HasSubstr("\"\\x1b]0;title\\x07\": \"\\x0d\\x1b[1A\""));
  const Result dump = RunCli({"dump", path, evil});
  EXPECT_EQ(dump.code, kExitOk) << dump.err;
  EXPECT_THAT(dump.out, HasSubstr("tensor: \"\\x1b[2J"));
  const Result diff = RunCli({"diff", path, other_path});
  EXPECT_THAT(diff.out, HasSubstr("values differ: \"\\x1b[2J"));
  // A file name from the command line is escaped as well.
  const Result missing = RunCli({"check", "no\x1b[2Jfile"});
  EXPECT_FALSE(raw_control(missing.out)) << missing.out;
}

constexpr char kCheckpoints[] = "testdata/checkpoints/";

// check on every case of testdata/checkpoints: the manifest's verdict, with
// per-shard results in --json, through a directory and through its index.
TEST(CliTest, CheckValidatesCheckpointsWithPerShardResults) {
  int cases = 0;
  for (const auto& row : ReadTsv(std::string(kCheckpoints) + "manifest.tsv")) {
    SCOPED_TRACE(row[0]);
    ++cases;
    const Result r = RunCli({"check", "--json", std::string(kCheckpoints) + row[0]});
    ASSERT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out;
    if (row[1] == "OK") {
      EXPECT_EQ(r.code, kExitOk) << r.out;
      EXPECT_THAT(r.out, HasSubstr("\"ok\":true,\"code\":null"));
    } else {
      EXPECT_EQ(r.code, row[1] == "IoError" ? kExitUsage : kExitProblem) << r.out;
      EXPECT_THAT(r.out, HasSubstr(absl::StrCat("\"code\":\"", row[1], "\"")));
    }
    EXPECT_THAT(r.out, HasSubstr("\"shards\":["));
  }
  EXPECT_GE(cases, 35);
  const Result ok = RunCli({"check", std::string(kCheckpoints) + "valid_two_shards/model.safetensors.index.json"});
  EXPECT_EQ(ok.code, kExitOk);
  EXPECT_THAT(ok.out, HasSubstr(": OK, checkpoint of 2 shards, 3 tensors"));
  EXPECT_THAT(ok.out, HasSubstr("  shard model-00002-of-00002.safetensors: OK, 1 tensors"));
  // A missing shard: the checkpoint is invalid, and the shard that is there
  // is reported fine.
  const Result missing = RunCli({"check", "--json", std::string(kCheckpoints) + "missing_shard"});
  EXPECT_THAT(missing.out, HasSubstr("{\"file\":\"model-00001-of-00002.safetensors\",\"ok\":true"));
  EXPECT_THAT(missing.out, HasSubstr("{\"file\":\"model-00002-of-00002.safetensors\",\"ok\":false,\"code\":\"IoError\""));
}

TEST(CliTest, CheckStrictWarnsWhenTotalSizeDisagrees) {
  const std::string dir = ::testing::TempDir() + "/total_size";
  std::filesystem::remove_all(dir);
  std::filesystem::copy(std::string(kCheckpoints) + "valid_two_shards", dir);
  {
    std::ofstream(dir + "/model.safetensors.index.json")
        << R"({"metadata": {"total_size": 41}, "weight_map": {"a": "model-00001-of-00002.safetensors", )"
           R"("b": "model-00001-of-00002.safetensors", "c": "model-00002-of-00002.safetensors"}})";
  }
  EXPECT_EQ(RunCli({"check", dir}).code, kExitOk);
  const Result strict = RunCli({"check", "--strict", dir});
  EXPECT_EQ(strict.code, kExitOk);
  EXPECT_THAT(strict.out, HasSubstr("warning: index metadata total_size is 41 but the shards hold 40"));
  EXPECT_EQ(RunCli({"check", "--strict=error", dir}).code, kExitProblem);
}

TEST(CliTest, InspectShowsShardsAndAShardColumn) {
  const Result r = RunCli({"inspect", std::string(kCheckpoints) + "valid_metadata_strings"});
  EXPECT_EQ(r.code, kExitOk) << r.err;
  EXPECT_THAT(r.out, HasSubstr("; 2 shards, 40 bytes of tensors)"));
  EXPECT_THAT(r.out, HasSubstr("\"lm_head.weight\": \"a\""));
  EXPECT_THAT(r.out, HasSubstr("model-00002-of-00002.safetensors                 1 tensors"));
  EXPECT_THAT(r.out, HasSubstr("OFFSET  SHARD\n"));
  EXPECT_THAT(r.out, HasSubstr("16               0  model-00002-of-00002.safetensors\n"));
  // total_size is a JSON number in the index: shown as one, not as a string.
  EXPECT_THAT(r.out, HasSubstr("  \"total_size\": 40\n"));
  const Result numbers =
      RunCli({"inspect", "--json", std::string(kCheckpoints) + "valid_metadata_strings"});
  EXPECT_THAT(numbers.out, HasSubstr("\"metadata\":{\"total_size\":40,\"lm_head.weight\":\"a\"}"));
  const Result json = RunCli({"inspect", "--json", std::string(kCheckpoints) + "valid_two_shards"});
  EXPECT_THAT(json.out, HasSubstr("\"offset\":0,\"shard\":\"model-00002-of-00002.safetensors\"}"));
  EXPECT_THAT(json.out, HasSubstr("\"totals\":{\"tensors\":3,"));
  EXPECT_EQ(RunCli({"inspect", std::string(kCheckpoints) + "name_absolute"}).code, kExitProblem);
}

// check and inspect of a FIFO, a socket, a device or a symlink loop, as a
// file, a shard or an index: a verdict at once (a FIFO used to block the
// tool forever), naming what the path is.
TEST(CliTest, SpecialFilesGetAVerdictWithoutBlocking) {
  using ::safetensors::testing::SpecialFile;
  using ::safetensors::testing::SpecialPlace;
  for (SpecialFile kind : ::safetensors::testing::AllSpecialFiles()) {
    for (SpecialPlace place : {SpecialPlace::kFile, SpecialPlace::kShard, SpecialPlace::kIndex}) {
      const std::string what = absl::StrCat(::safetensors::testing::SpecialFileName(kind),
                                            " as the ", ::safetensors::testing::SpecialPlaceName(place));
      SCOPED_TRACE(what);
      const std::string path = ::safetensors::testing::MakeCheckpointWith(
          kind, place,
          absl::StrCat(::testing::TempDir(), "/cli_special_", static_cast<int>(kind), "_",
                       static_cast<int>(place)));
      // A loop is the system refusing the path (exit 2); the others are
      // files of the wrong type (exit 1, like an invalid file).
      const bool loop = kind == SpecialFile::kSymlinkLoop;
      ::safetensors::testing::Watchdog watchdog("check and inspect of a " + what);
      const Result check = RunCli({"check", "--json", path});
      EXPECT_EQ(check.code, loop ? kExitUsage : kExitProblem) << check.out;
      EXPECT_THAT(check.out, HasSubstr(loop ? "\"code\":\"IoError\"" : "\"code\":\"NotRegularFile\""));
      EXPECT_THAT(check.out, HasSubstr(::safetensors::testing::SpecialFileMessage(kind)));
      const Result inspect = RunCli({"inspect", path});
      EXPECT_EQ(inspect.code, loop ? kExitUsage : kExitProblem);
      EXPECT_THAT(inspect.err, HasSubstr(::safetensors::testing::SpecialFileMessage(kind)));
    }
  }
}

TEST(CliTest, DiffComparesCheckpointsTensorByTensor) {
  // The same tensors, sharded two ways and as one file: identical.
  ASSERT_OK_AND_ASSIGN(TensorDict tensors, load(ReadTestFile(kExample)));
  const std::string one = ::testing::TempDir() + "/diff_one", two = ::testing::TempDir() + "/diff_two";
  for (const std::string& dir : {one, two}) {
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
  }
  SaveCheckpointOptions sharded;
  sharded.max_shard_size = 100;
  ASSERT_OK(save_torch_state_dict(tensors, one, sharded));
  ASSERT_OK(save_torch_state_dict(tensors, two));
  EXPECT_THAT(RunCli({"diff", one, two}).out, HasSubstr("metadata differs"));  // total_size vs format
  Result same = RunCli({"diff", one, one + "/model.safetensors.index.json"});
  EXPECT_EQ(same.code, kExitOk) << same.out;
  EXPECT_THAT(same.out, HasSubstr("identical: 4 tensors"));
  // One value changed in one shard of a copy.
  TensorDict changed = tensors;
  changed["fc2.bias"] = tensors["fc2.bias"].clone().add(0.25);
  const std::string three = ::testing::TempDir() + "/diff_three";
  std::filesystem::remove_all(three);
  std::filesystem::create_directories(three);
  ASSERT_OK(save_torch_state_dict(changed, three, sharded));
  const Result r = RunCli({"diff", one, three});
  EXPECT_EQ(r.code, kExitProblem);
  EXPECT_THAT(r.out, HasSubstr("values differ: \"fc2.bias\": max abs difference 0.25"));
  const Result dump = RunCli({"dump", three, "fc2.bias"});
  EXPECT_EQ(dump.code, kExitOk) << dump.err;
  EXPECT_THAT(dump.out, HasSubstr("shape: [3]"));
}

TEST(CliTest, HelpAndUsage) {
  EXPECT_EQ(RunCli({"--help"}).code, kExitOk);
  EXPECT_THAT(RunCli({"--help"}).out, HasSubstr("commands:"));
  for (const char* command : {"check", "inspect", "dump", "diff"}) {
    Result r = RunCli({command, "--help"});
    EXPECT_EQ(r.code, kExitOk) << command;
    EXPECT_THAT(r.out, HasSubstr(absl::StrCat("usage: safetensors ", command)));
  }
  EXPECT_EQ(RunCli({}).code, kExitUsage);
  Result unknown = RunCli({"frobnicate"});
  EXPECT_EQ(unknown.code, kExitUsage);
  EXPECT_THAT(unknown.err, HasSubstr("unknown command \"frobnicate\""));
}

}  // namespace
}  // namespace cli
}  // namespace safetensors

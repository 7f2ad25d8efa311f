#include "tools/cli_util.h"

#include <cstdlib>
#include <optional>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "parser/error.h"

namespace safetensors {
namespace cli {

absl::StatusOr<Args> ParseArgs(const std::vector<std::string>& args,
                               const std::set<std::string>& valued,
                               const std::set<std::string>& switches) {
  Args parsed;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") {
      parsed.positional.insert(parsed.positional.end(), args.begin() + static_cast<long>(i) + 1,
                               args.end());
      break;
    }
    if (!absl::StartsWith(arg, "--")) {
      parsed.positional.push_back(arg);
      continue;
    }
    const size_t eq = arg.find('=');
    const std::string name = arg.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
    if (switches.count(name) != 0) {
      parsed.flags[name] = eq == std::string::npos ? "" : arg.substr(eq + 1);
    } else if (valued.count(name) != 0) {
      if (eq != std::string::npos) {
        parsed.flags[name] = arg.substr(eq + 1);
      } else if (i + 1 < args.size()) {
        parsed.flags[name] = args[++i];
      } else {
        return absl::InvalidArgumentError(absl::StrCat("--", name, " needs a value"));
      }
    } else {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag ", EscapeText(arg)));
    }
  }
  return parsed;
}

std::string ResolvePath(const std::string& path) {
  const char* base = std::getenv("BUILD_WORKING_DIRECTORY");
  if (base == nullptr || path.empty() || path[0] == '/') return path;
  return absl::StrCat(base, "/", path);
}

bool IsIoError(const absl::Status& status) {
  return GetErrorCode(status) == ErrorCode::kIoError;
}

int ReportError(const std::string& path, const absl::Status& status, std::ostream& err) {
  err << "safetensors: " << EscapeText(path) << ": " << status.message();
  if (std::optional<ErrorCode> code = GetErrorCode(status); code && !IsIoError(status)) {
    err << " [" << ErrorCodeName(*code) << "]";
  }
  err << "\n";
  return IsIoError(status) ? kExitUsage : kExitProblem;
}

std::string ShapeText(absl::Span<const uint64_t> shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ", "), "]");
}

std::string ShapeJson(absl::Span<const uint64_t> shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ","), "]");
}

}  // namespace cli
}  // namespace safetensors

// Reading this process's memory figures from /proc/self/status, for the
// benchmarks' peak-memory rows.
#ifndef SAFETENSORS_TOOLS_BENCH_PROC_STATUS_H_
#define SAFETENSORS_TOOLS_BENCH_PROC_STATUS_H_

#include <cstdlib>
#include <fstream>
#include <string>

namespace safetensors {
namespace bench {

// A field of /proc/self/status in bytes ("VmHWM:" -> peak resident), or -1.
inline long StatusField(const std::string& field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field, 0) == 0) {
      return std::strtol(line.c_str() + field.size(), nullptr, 10) * 1024;
    }
  }
  return -1;
}

// Resets the peak to the current resident size (a later StatusField("VmHWM:")
// minus StatusField("VmRSS:") now is what happened in between).
inline void ResetPeakResident() { std::ofstream("/proc/self/clear_refs") << "5"; }

}  // namespace bench
}  // namespace safetensors

#endif  // SAFETENSORS_TOOLS_BENCH_PROC_STATUS_H_

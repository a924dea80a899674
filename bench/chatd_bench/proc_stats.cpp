// /proc readers for the server's memory and CPU figures.

#include "bench/chatd_bench/proc_stats.h"

#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>

namespace chatd::bench {

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return {};
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Fields after the command name of /proc/<pid>/stat (the name may hold spaces and parentheses,
// so parsing starts after the last ')'). Index 0 is the state, 1 the ppid (field 4 of proc(5)).
std::vector<std::string> stat_fields(int pid) {
  std::string s = read_file("/proc/" + std::to_string(pid) + "/stat");
  size_t close = s.rfind(')');
  std::vector<std::string> out;
  if (close == std::string::npos) return out;
  std::istringstream in(s.substr(close + 1));
  std::string f;
  while (in >> f) out.push_back(f);
  return out;
}

long to_long(const std::string& s) {
  long v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

}  // namespace

std::vector<int> with_descendants(const std::vector<int>& roots) {
  std::multimap<int, int> children;  // ppid -> pid
  if (DIR* d = opendir("/proc")) {
    while (dirent* e = readdir(d)) {
      int pid = 0;
      const char* name = e->d_name;
      auto [end, ec] = std::from_chars(name, name + std::char_traits<char>::length(name), pid);
      if (ec != std::errc() || *end != '\0') continue;
      auto f = stat_fields(pid);
      if (f.size() > 1) children.emplace(static_cast<int>(to_long(f[1])), pid);
    }
    closedir(d);
  }
  std::set<int> seen;
  std::vector<int> todo;
  for (int r : roots) {
    if (::kill(r, 0) == 0 || errno == EPERM) todo.push_back(r);
  }
  std::vector<int> out;
  while (!todo.empty()) {
    int pid = todo.back();
    todo.pop_back();
    if (!seen.insert(pid).second) continue;
    out.push_back(pid);
    auto [lo, hi] = children.equal_range(pid);
    for (auto it = lo; it != hi; ++it) todo.push_back(it->second);
  }
  return out;
}

proc_sample sample_processes(const std::vector<int>& roots) {
  proc_sample s;
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  for (int pid : with_descendants(roots)) {
    std::string status = read_file("/proc/" + std::to_string(pid) + "/status");
    size_t at = status.find("VmRSS:");
    if (at == std::string::npos) continue;  // gone, or a zombie
    std::istringstream in(status.substr(at + 6));
    uint64_t kib = 0;
    in >> kib;
    s.rss_kib += kib;
    auto f = stat_fields(pid);
    if (f.size() > 12) s.cpu_s += static_cast<double>(to_long(f[11]) + to_long(f[12])) / ticks;
    ++s.processes;
  }
  return s;
}

}  // namespace chatd::bench

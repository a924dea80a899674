// Rewrites argv's memory to set the process title (see proc_title.h).

#include "daemon/proc_title.h"

#include <sys/prctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <string>

extern char** environ;

namespace chatd::proc_title {
namespace {

char* g_area = nullptr;    // argv[0]
size_t g_area_size = 0;    // bytes from argv[0] to the end of the last contiguous string
// The environment strings init() copied, for the life of the process: unsetenv() (a worker drops
// NOTIFY_SOCKET) takes an entry out of environ, and the copy must not become a leak.
char** g_env_copies = nullptr;

}  // namespace

void init(int argc, char** argv) {
  if (argc < 1 || argv[0] == nullptr) return;
  char* end = argv[0];
  for (int i = 0; i < argc; ++i) {
    if (argv[i] != end) break;  // not contiguous: stop at what is
    end = argv[i] + strlen(argv[i]) + 1;
  }
  // The environment usually follows argv; move it to the heap to use its space too.
  size_t env_count = 0;
  while (environ[env_count] != nullptr) ++env_count;
  char** moved = new char*[env_count + 1];
  g_env_copies = new char*[env_count + 1];
  for (size_t i = 0; i < env_count; ++i) {
    if (environ[i] == end) end = environ[i] + strlen(environ[i]) + 1;
    moved[i] = strdup(environ[i]);
    g_env_copies[i] = moved[i];
  }
  moved[env_count] = nullptr;
  g_env_copies[env_count] = nullptr;
  environ = moved;  // the old array stays allocated: it lives where the loader put it
  g_area = argv[0];
  g_area_size = static_cast<size_t>(end - argv[0]);
}

void set(std::string_view title) {
  std::string short_name(title.substr(0, 15));
  prctl(PR_SET_NAME, short_name.c_str(), 0, 0, 0);
  if (g_area == nullptr || g_area_size < 2) return;
  size_t n = std::min(title.size(), g_area_size - 1);
  memcpy(g_area, title.data(), n);
  // Zero the rest so that /proc/<pid>/cmdline ends at the title.
  memset(g_area + n, 0, g_area_size - n);
}

}  // namespace chatd::proc_title

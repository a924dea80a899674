// The always-on assertion's failure path (common/assert.h).

#include "common/assert.h"

#include <cstdio>
#include <cstdlib>

namespace chatd::detail {

void assert_failed(const char* what, const char* file, int line, const char* why) noexcept {
  // stderr is unbuffered and goes to the journal under systemd; no allocation on this path.
  std::fprintf(stderr, "chatd: assertion failed: %s (%s:%d): %s\n", what, file, line, why);
  std::abort();
}

}  // namespace chatd::detail

#pragma once
// CHATD_ASSERT: an invariant that holds in every build, Release included. A broken invariant in
// the worker core (a room changed while a broadcast walks it, a session freed while a transport
// still carries it) corrupts memory silently if it goes on; stopping the worker at once, with the
// file, line and condition in the log, turns that into a crash the master respawns and a report
// someone can read. Checks are cheap comparisons on paths that already touch the same memory.

namespace chatd::detail {

// Writes "assertion failed: <what> (<file>:<line>): <why>" to stderr and aborts.
[[noreturn]] void assert_failed(const char* what, const char* file, int line, const char* why) noexcept;

}  // namespace chatd::detail

#define CHATD_ASSERT(cond, why)                                                    \
  do {                                                                             \
    if (__builtin_expect(!(cond), 0)) {                                            \
      ::chatd::detail::assert_failed(#cond, __FILE__, __LINE__, why);              \
    }                                                                              \
  } while (0)

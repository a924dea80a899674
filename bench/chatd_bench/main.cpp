// chatd-bench: a load generator for Socket.IO v4 servers over WebSocket (see --help).

#include "bench/chatd_bench/coordinator.h"
#include "bench/chatd_bench/options.h"

#include <cstdio>
#include <variant>

int main(int argc, char** argv) {
  auto parsed = chatd::bench::parse_options(argc, argv);
  if (auto* f = std::get_if<chatd::bench::parse_failure>(&parsed)) {
    std::fprintf(f->is_error ? stderr : stdout, "%s%s", f->is_error ? "chatd-bench: " : "",
                 f->text.c_str());
    if (f->is_error) std::fputc('\n', stderr);
    return f->is_error ? 2 : 0;
  }
  return chatd::bench::run_benchmark(std::get<chatd::bench::options>(parsed));
}

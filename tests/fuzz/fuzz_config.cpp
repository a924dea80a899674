// libFuzzer target for the config loader (common/config.h: load_config_string): YAML text in, a
// config or a config_error out. Checks, beyond sanitizers (and libFuzzer's timeout for a hang):
// - nothing escapes as an exception (the loader's promise: yaml-cpp throws, it must not);
// - an error names the file, has a non-empty reason, a line >= 0 and a non-empty message();
// - a config that loads passes validate_config again, unchanged (validation is idempotent), with
//   its redis endpoint parsed and its values inside the ranges the loader enforces.
//
// Inputs are capped at 64 KiB: a real config is a few KiB (load_config_file refuses above
// 1 MiB), and the cap keeps yaml-cpp's recursive descent over nested flow collections
// ("[[[[…") well inside the stack of an ASan build. yaml-cpp itself is the system library,
// not instrumented: the fuzzer's coverage guidance comes from chatd's side of the loader.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "common/config.h"

namespace {

// A broken property names itself before the abort libFuzzer reports.
void fail(const char* what, int line) {
  std::fprintf(stderr, "%s:%d: property failed: %s\n", __FILE__, line, what);
  std::abort();
}
#define CHECK(cond) ((cond) ? (void)0 : fail(#cond, __LINE__))

constexpr size_t k_max_input = 64 * 1024;

bool same(const chatd::config& a, const chatd::config& b) {
  return a.listen_address == b.listen_address && a.listen_port == b.listen_port &&
         a.listen_backlog == b.listen_backlog && a.workers == b.workers &&
         a.redis_url == b.redis_url && a.redis.host == b.redis.host &&
         a.redis.port == b.redis.port && a.redis.unix_path == b.redis.unix_path &&
         a.redis.password == b.redis.password && a.redis.db == b.redis.db &&
         a.redis_key == b.redis_key &&
         a.redis_connect_timeout_ms == b.redis_connect_timeout_ms &&
         a.redis_reconnect_max_ms == b.redis_reconnect_max_ms &&
         a.ping_interval_ms == b.ping_interval_ms && a.ping_timeout_ms == b.ping_timeout_ms &&
         a.max_payload == b.max_payload && a.connect_timeout_ms == b.connect_timeout_ms &&
         a.upgrade_timeout_ms == b.upgrade_timeout_ms && a.allowed_origins == b.allowed_origins &&
         a.max_connections == b.max_connections && a.max_backpressure == b.max_backpressure &&
         a.max_header_size == b.max_header_size &&
         a.adapter_serve_requests == b.adapter_serve_requests &&
         a.adapter_socket_rooms == b.adapter_socket_rooms &&
         a.adapter_pattern_subscription == b.adapter_pattern_subscription &&
         a.adapter_specific_response_channel == b.adapter_specific_response_channel &&
         a.adapter_requests_timeout_ms == b.adapter_requests_timeout_ms &&
         a.shutdown_timeout_ms == b.shutdown_timeout_ms && a.log_level == b.log_level;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > k_max_input) return -1;  // not added to the corpus
  const std::string text(reinterpret_cast<const char*>(data), size);
  const std::string name = "fuzz.yaml";
  try {
    auto c = chatd::load_config_string(text, name);
    if (!c) {
      const chatd::config_error& e = c.error();
      CHECK(e.file == name);
      CHECK(!e.reason.empty());
      CHECK(e.line >= 0);
      CHECK(!e.message().empty());
      return 0;
    }
    CHECK(c->ping_interval_ms > 0 && c->ping_timeout_ms > 0 && c->max_payload > 0);
    CHECK(c->max_header_size >= 1024 && c->listen_port >= 1);
    CHECK(!c->redis.host.empty() || !c->redis.unix_path.empty());
    auto again = chatd::validate_config(*c, name);
    CHECK(again.has_value());
    CHECK(same(*again, *c));
  } catch (...) {
    std::abort();
  }
  return 0;
}

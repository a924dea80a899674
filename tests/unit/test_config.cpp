// Unit tests of the configuration loader: defaults, every key and value form, each kind of error
// with its exact line, Redis URLs, and that the shipped etc/chatd.yaml equals the built-in defaults.

#include "common/config.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>

using namespace chatd;

namespace {

config load_ok(const std::string& yaml) {
  auto r = load_config_string(yaml, "test.yaml");
  INFO(yaml);
  REQUIRE_MESSAGE(r.has_value(), (r ? std::string() : r.error().message()));
  return *r;
}

config_error load_error(const std::string& yaml) {
  auto r = load_config_string(yaml, "test.yaml");
  INFO(yaml);
  REQUIRE_FALSE(r.has_value());
  return r.error();
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// Field by field, so a failure names the field and prints both values.
void check_equal(const config& a, const config& b) {
  CHECK(a.listen_address == b.listen_address);
  CHECK(a.listen_port == b.listen_port);
  CHECK(a.listen_backlog == b.listen_backlog);
  CHECK(a.workers == b.workers);
  CHECK(a.redis_url == b.redis_url);
  CHECK(a.redis.host == b.redis.host);
  CHECK(a.redis.port == b.redis.port);
  CHECK(a.redis.unix_path == b.redis.unix_path);
  CHECK(a.redis.password == b.redis.password);
  CHECK(a.redis.db == b.redis.db);
  CHECK(a.redis_key == b.redis_key);
  CHECK(a.redis_connect_timeout_ms == b.redis_connect_timeout_ms);
  CHECK(a.redis_reconnect_max_ms == b.redis_reconnect_max_ms);
  CHECK(a.ping_interval_ms == b.ping_interval_ms);
  CHECK(a.ping_timeout_ms == b.ping_timeout_ms);
  CHECK(a.max_payload == b.max_payload);
  CHECK(a.connect_timeout_ms == b.connect_timeout_ms);
  CHECK(a.upgrade_timeout_ms == b.upgrade_timeout_ms);
  CHECK(a.allowed_origins == b.allowed_origins);
  CHECK(a.echo_path == b.echo_path);
  CHECK(a.max_connections == b.max_connections);
  CHECK(a.max_backpressure == b.max_backpressure);
  CHECK(a.max_output_memory == b.max_output_memory);
  CHECK(a.max_header_size == b.max_header_size);
  CHECK(a.shutdown_timeout_ms == b.shutdown_timeout_ms);
  CHECK(a.adapter_serve_requests == b.adapter_serve_requests);
  CHECK(a.adapter_socket_rooms == b.adapter_socket_rooms);
  CHECK(a.adapter_pattern_subscription == b.adapter_pattern_subscription);
  CHECK(a.adapter_specific_response_channel == b.adapter_specific_response_channel);
  CHECK(a.adapter_requests_timeout_ms == b.adapter_requests_timeout_ms);
  CHECK(a.history_enabled == b.history_enabled);
  CHECK(a.history_max_messages == b.history_max_messages);
  CHECK(a.history_max_age_ms == b.history_max_age_ms);
  CHECK(a.recovery_enabled == b.recovery_enabled);
  CHECK(a.recovery_max_disconnection_ms == b.recovery_max_disconnection_ms);
  CHECK(a.recovery_max_entries == b.recovery_max_entries);
  CHECK(a.log_level == b.log_level);
  CHECK(a.log_format == b.log_format);
  CHECK(a.auth.enabled == b.auth.enabled);
  CHECK(a.auth.policy.algorithms == b.auth.policy.algorithms);
  CHECK(a.auth.policy.issuer == b.auth.policy.issuer);
  CHECK(a.auth.policy.audience == b.auth.policy.audience);
  CHECK(a.auth.policy.leeway_ms == b.auth.policy.leeway_ms);
  CHECK(a.auth.policy.user_claim == b.auth.policy.user_claim);
  CHECK(a.auth.policy.channels_claim == b.auth.policy.channels_claim);
  CHECK(a.auth.secret_file == b.auth.secret_file);
  CHECK(a.auth.public_key_file == b.auth.public_key_file);
  CHECK(a.auth.jwks_file == b.auth.jwks_file);
  CHECK(a.auth.rewrite_user_id == b.auth.rewrite_user_id);
}

// A file in /tmp removed when the test ends.
struct temp_file {
  std::string path;
  explicit temp_file(const std::string& text) {
    char name[] = "/tmp/chatd_test_config_XXXXXX";
    int fd = mkstemp(name);
    REQUIRE(fd >= 0);
    path = name;
    REQUIRE(write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()));
    close(fd);
  }
  ~temp_file() { unlink(path.c_str()); }
};

}  // namespace

// ---------------------------------------------------------------------------------------------
// Defaults and the shipped file

TEST_CASE("a default-constructed config has the documented defaults") {
  config c;
  CHECK(c.listen_address == "0.0.0.0");
  CHECK(c.listen_port == 8000);
  CHECK(c.listen_backlog == 4096);
  CHECK(c.workers == 0);
  CHECK(c.redis_url == "redis://127.0.0.1:6379");
  CHECK(c.redis.host == "127.0.0.1");
  CHECK(c.redis.port == 6379);
  CHECK(c.redis_key == "socket.io");
  CHECK(c.redis_connect_timeout_ms == 2000);
  CHECK(c.redis_reconnect_max_ms == 5000);
  CHECK(c.ping_interval_ms == 25000);
  CHECK(c.ping_timeout_ms == 20000);
  CHECK(c.max_payload == 1000000);
  CHECK(c.connect_timeout_ms == 45000);
  CHECK(c.upgrade_timeout_ms == 10000);
  CHECK(c.allowed_origins.empty());
  CHECK(c.max_connections == 100000);
  CHECK(c.max_backpressure == 1048576);
  CHECK(c.max_output_memory == 268435456u);
  CHECK(c.max_header_size == 8192);
  CHECK(c.shutdown_timeout_ms == 10000);
  CHECK(c.adapter_serve_requests);
  CHECK(c.adapter_socket_rooms);
  CHECK_FALSE(c.adapter_specific_response_channel);
  CHECK(c.adapter_requests_timeout_ms == 5000);
  CHECK(c.log_level == log::level::info);
  CHECK(c.log_format == log::format::text);
  CHECK(c.history_enabled);
  CHECK(c.history_max_messages == 100);
  CHECK(c.history_max_age_ms == 3600000);
  CHECK_FALSE(c.recovery_enabled);  // opt-in, as socket.io's connectionStateRecovery
  CHECK(c.recovery_max_disconnection_ms == 120000);
  CHECK(c.recovery_max_entries == 100000);
}

TEST_CASE("history and recovery: every key loads into its field") {
  config c = load_ok("history:\n  enabled: false\n  max_messages: 20\n  max_age: 10m\n"
                     "recovery:\n  enabled: no\n  max_disconnection: 30s\n  max_entries: 5000\n");
  CHECK_FALSE(c.history_enabled);
  CHECK(c.history_max_messages == 20);
  CHECK(c.history_max_age_ms == 600000);
  CHECK_FALSE(c.recovery_enabled);
  CHECK(c.recovery_max_disconnection_ms == 30000);
  CHECK(c.recovery_max_entries == 5000);
}

TEST_CASE("history and recovery: values out of range are refused with the key and line") {
  auto big = load_config_string("history:\n  max_messages: 100001\n", "t.yaml");
  REQUIRE_FALSE(big.has_value());
  CHECK(big.error().message().find("t.yaml:2: history.max_messages") == 0);
  auto short_window = load_config_string("recovery:\n  max_disconnection: 10ms\n", "t.yaml");
  REQUIRE_FALSE(short_window.has_value());
  CHECK(short_window.error().message().find("t.yaml:2: recovery.max_disconnection") == 0);
  auto few = load_config_string("recovery:\n  max_entries: 10\n", "t.yaml");
  REQUIRE_FALSE(few.has_value());
  CHECK(few.error().message().find("t.yaml:2: recovery.max_entries") == 0);
  auto word = load_config_string("recovery:\n  enabled: sometimes\n", "t.yaml");
  REQUIRE_FALSE(word.has_value());
  CHECK(word.error().message() == "t.yaml:2: recovery.enabled: expected true or false, got 'sometimes'");
}

TEST_CASE("adapter: booleans and the requests timeout load; anything else is refused with its line") {
  config c = load_ok("adapter:\n  serve_requests: false\n  socket_rooms: no\n"
                     "  specific_response_channel: true\n  requests_timeout: 250ms\n"
                     "  subscription: rooms\n");
  CHECK_FALSE(c.adapter_pattern_subscription);
  CHECK_FALSE(c.adapter_serve_requests);
  CHECK_FALSE(c.adapter_socket_rooms);
  CHECK(c.adapter_specific_response_channel);
  CHECK(c.adapter_requests_timeout_ms == 250);
  auto bad = load_config_string("adapter:\n  serve_requests: maybe\n", "t.yaml");
  REQUIRE_FALSE(bad.has_value());
  CHECK(bad.error().message() == "t.yaml:2: adapter.serve_requests: expected true or false, got 'maybe'");
}

TEST_CASE("loading etc/chatd.yaml gives the built-in defaults") {
  auto r = load_config_file(CHATD_SOURCE_DIR "/etc/chatd.yaml");
  REQUIRE_MESSAGE(r.has_value(), (r ? std::string() : r.error().message()));
  check_equal(*r, config{});
}

TEST_CASE("etc/conformance.yaml has the protocol test suites' settings") {
  auto r = load_config_file(CHATD_SOURCE_DIR "/etc/conformance.yaml");
  REQUIRE_MESSAGE(r.has_value(), (r ? std::string() : r.error().message()));
  auto v = validate_config(*r, "etc/conformance.yaml");
  REQUIRE_MESSAGE(v.has_value(), (v ? std::string() : v.error().message()));
  CHECK(v->listen_port == 3000);
  CHECK(v->ping_interval_ms == 300);
  CHECK(v->ping_timeout_ms == 200);
  CHECK(v->max_payload == 1000000);
  CHECK(v->connect_timeout_ms == 1000);
  CHECK(v->allowed_origins == std::vector<std::string>{"*"});
  CHECK(v->echo_path == "/engine.io/");
  REQUIRE(v->namespaces.size() == 2);
  CHECK(v->namespaces[0].name == "/");
  CHECK(v->namespaces[0].app == app_kind::echo);
  CHECK(v->namespaces[1].name == "/custom");
  CHECK(v->namespaces[1].app == app_kind::echo);
}

TEST_CASE("an empty file means all defaults") { check_equal(load_ok(""), config{}); }

TEST_CASE("a file of only comments means all defaults") {
  check_equal(load_ok("# nothing set\n\n   # still nothing\n"), config{});
}

TEST_CASE("an empty section means its defaults") {
  check_equal(load_ok("listen:\nredis:\n"), config{});
}

TEST_CASE("the default config validates") {
  auto r = validate_config(config{}, "<defaults>");
  REQUIRE(r.has_value());
  check_equal(*r, config{});
}

// ---------------------------------------------------------------------------------------------
// Every key

TEST_CASE("every key is parsed into its field") {
  config c = load_ok(R"(
listen:
  address: "::1"
  port: 9001
  backlog: 128
workers: 3
redis:
  url: redis://:pw@10.0.0.5:6380/2
  key: chat
  connect_timeout: 750ms
  reconnect_max: 3s
engineio:
  ping_interval: 1s
  ping_timeout: 2s
  max_payload: 64KiB
  connect_timeout: 3s
  upgrade_timeout: 4s
  allowed_origins: ["https://chat.example.com", "http://localhost:3000", "*"]
  echo_path: /engine.io/
limits:
  max_connections: 5000
  max_backpressure: 2MiB
  max_header_size: 16KiB
shutdown_timeout: 30s
log:
  level: debug
)");
  CHECK(c.listen_address == "::1");
  CHECK(c.listen_port == 9001);
  CHECK(c.listen_backlog == 128);
  CHECK(c.workers == 3);
  CHECK(c.redis_url == "redis://:pw@10.0.0.5:6380/2");
  CHECK(c.redis.host == "10.0.0.5");
  CHECK(c.redis.port == 6380);
  CHECK(c.redis.password == "pw");
  CHECK(c.redis.db == 2);
  CHECK(c.redis_key == "chat");
  CHECK(c.redis_connect_timeout_ms == 750);
  CHECK(c.redis_reconnect_max_ms == 3000);
  CHECK(c.ping_interval_ms == 1000);
  CHECK(c.ping_timeout_ms == 2000);
  CHECK(c.max_payload == 65536);
  CHECK(c.connect_timeout_ms == 3000);
  CHECK(c.upgrade_timeout_ms == 4000);
  CHECK(c.allowed_origins ==
        std::vector<std::string>{"https://chat.example.com", "http://localhost:3000", "*"});
  CHECK(c.echo_path == "/engine.io/");
  CHECK(c.max_connections == 5000);
  CHECK(c.max_backpressure == 2097152);
  CHECK(c.max_header_size == 16384);
  CHECK(c.shutdown_timeout_ms == 30000);
  CHECK(c.log_level == log::level::debug);
}

TEST_CASE("keys left out keep their defaults") {
  config c = load_ok("listen:\n  port: 9000\n");
  CHECK(c.listen_port == 9000);
  CHECK(c.listen_address == "0.0.0.0");
  CHECK(c.ping_interval_ms == 25000);
}

TEST_CASE("each log level is accepted") {
  CHECK(load_ok("log: {level: debug}").log_level == log::level::debug);
  CHECK(load_ok("log: {level: info}").log_level == log::level::info);
  CHECK(load_ok("log: {level: warn}").log_level == log::level::warn);
  CHECK(load_ok("log: {level: error}").log_level == log::level::error);
}

TEST_CASE("each log format is accepted, text by default") {
  CHECK(config{}.log_format == log::format::text);
  CHECK(load_ok("log: {format: text}").log_format == log::format::text);
  CHECK(load_ok("log: {format: json}").log_format == log::format::json);
  CHECK(load_ok("log:\n  level: debug\n  format: json\n").log_level == log::level::debug);
}

TEST_CASE("an unknown log format is refused with its line and the choices") {
  config_error e = load_error("workers: 1\nlog:\n  format: JSON\n");
  CHECK(e.line == 3);
  CHECK(contains(e.reason, "log.format: expected one of text, json, got 'JSON'"));
  config_error list = load_error("log:\n  format: [json]\n");
  CHECK(list.line == 2);
  CHECK(contains(list.reason, "log.format"));
}

TEST_CASE("engineio.echo_path is off by default and an empty value keeps it off") {
  CHECK(config{}.echo_path.empty());
  CHECK(load_ok("engineio:\n  echo_path: \"\"\n").echo_path.empty());
}

TEST_CASE("engineio.echo_path must be a path between slashes, not /socket.io/") {
  for (const char* bad : {"engine.io", "/engine.io", "engine.io/", "/", "//x", "/a b/", "/a?b/",
                          "/socket.io/"}) {
    CAPTURE(bad);
    config_error e = load_error(std::string("engineio:\n  echo_path: \"") + bad + "\"\n");
    CHECK(contains(e.reason, "engineio.echo_path"));
    CHECK(e.line == 2);
  }
  config c;
  c.echo_path = "/eio";
  auto r = validate_config(c, "<struct>");
  REQUIRE_FALSE(r.has_value());
  CHECK(contains(r.error().reason, "engineio.echo_path"));
}

TEST_CASE("allowed_origins with no items means no CORS") {
  CHECK(load_ok("engineio:\n  allowed_origins:\n").allowed_origins.empty());
}

TEST_CASE("a quoted number is accepted where a number belongs") {
  CHECK(load_ok("listen:\n  port: \"9000\"\n").listen_port == 9000);
}

// ---------------------------------------------------------------------------------------------
// Durations

TEST_CASE("a duration given as an integer is milliseconds") {
  CHECK(load_ok("engineio: {ping_interval: 1500}").ping_interval_ms == 1500);
}

TEST_CASE("a duration accepts the ms unit") {
  CHECK(load_ok("engineio: {ping_interval: 500ms}").ping_interval_ms == 500);
}

TEST_CASE("a duration accepts the s unit") {
  CHECK(load_ok("engineio: {ping_interval: 25s}").ping_interval_ms == 25000);
}

TEST_CASE("a duration accepts the m unit") {
  CHECK(load_ok("engineio: {ping_interval: 2m}").ping_interval_ms == 120000);
}

TEST_CASE("a duration accepts the h unit") {
  CHECK(load_ok("engineio: {ping_interval: 1h}").ping_interval_ms == 3600000);
}

TEST_CASE("a duration accepts a blank between number and unit") {
  CHECK(load_ok("engineio: {ping_interval: 3 s}").ping_interval_ms == 3000);
}

TEST_CASE("a duration with an unknown unit is refused") {
  config_error e = load_error("engineio:\n  ping_interval: 5sec\n");
  CHECK(e.line == 2);
  CHECK(contains(e.reason, "engineio.ping_interval: expected a duration"));
  CHECK(contains(e.reason, "got '5sec'"));
}

TEST_CASE("a fractional duration is refused") {
  config_error e = load_error("engineio:\n  ping_interval: 1.5s\n");
  CHECK(e.line == 2);
  CHECK(contains(e.reason, "expected a duration"));
}

TEST_CASE("a duration without a number is refused") {
  config_error e = load_error("shutdown_timeout: s\n");
  CHECK(e.line == 1);
  CHECK(contains(e.reason, "shutdown_timeout: expected a duration"));
}

// ---------------------------------------------------------------------------------------------
// Sizes

TEST_CASE("a size given as an integer is bytes") {
  CHECK(load_ok("engineio: {max_payload: 12345}").max_payload == 12345);
}

TEST_CASE("a size accepts the B unit") {
  CHECK(load_ok("engineio: {max_payload: 100B}").max_payload == 100);
}

TEST_CASE("a size accepts the KiB unit") {
  CHECK(load_ok("engineio: {max_payload: 64KiB}").max_payload == 65536);
}

TEST_CASE("a size accepts the MiB unit") {
  CHECK(load_ok("engineio: {max_payload: 1MiB}").max_payload == 1048576);
}

TEST_CASE("a size accepts the GiB unit") {
  CHECK(load_ok("limits: {max_backpressure: 1GiB}").max_backpressure == 1073741824u);
}

TEST_CASE("a size accepts the decimal kB unit") {
  CHECK(load_ok("engineio: {max_payload: 1000kB}").max_payload == 1000000);
}

TEST_CASE("a size accepts the decimal MB unit") {
  CHECK(load_ok("engineio: {max_payload: 1MB}").max_payload == 1000000);
}

TEST_CASE("a size accepts the decimal GB unit") {
  CHECK(load_ok("limits: {max_backpressure: 2GB}").max_backpressure == 2000000000u);
}

TEST_CASE("an ambiguous size unit is refused") {
  config_error e = load_error("engineio:\n  max_payload: 64KB\n");
  CHECK(e.line == 2);
  CHECK(contains(e.reason, "engineio.max_payload: expected a size"));
  CHECK(contains(e.reason, "got '64KB'"));
}

TEST_CASE("a size past 32 bits is out of range") {
  config_error e = load_error("limits:\n  max_backpressure: 4GiB\n");
  CHECK(e.line == 2);
  CHECK(e.reason == "limits.max_backpressure: must be at least 1KiB, got '4GiB'");
}

TEST_CASE("max_output_memory takes sizes past 32 bits, 0 for none, and refuses more than 1024GiB") {
  CHECK(load_ok("limits: {max_output_memory: 8GiB}").max_output_memory == 8589934592u);
  CHECK(load_ok("limits: {max_output_memory: 0}").max_output_memory == 0u);
  config_error e = load_error("limits:\n  max_output_memory: 1025GiB\n");
  CHECK(e.line == 2);
  CHECK(contains(e.reason, "limits.max_output_memory: must be"));
  CHECK(contains(e.reason, "got '1025GiB'"));
}

TEST_CASE("a size whose multiplication overflows is out of range") {
  config_error e = load_error("limits:\n  max_backpressure: 99999999999999999GiB\n");
  CHECK(e.line == 2);
  CHECK(contains(e.reason, "limits.max_backpressure: must be at least 1KiB"));
}

// ---------------------------------------------------------------------------------------------
// Syntax and shape errors

TEST_CASE("a YAML syntax error reports the parser's line") {
  config_error e = load_error("listen:\n  port: 8000\n  backlog: a: b\nworkers: 1\n");
  CHECK(e.file == "test.yaml");
  CHECK(e.line == 3);
  CHECK(e.reason == "invalid YAML: illegal map value");
}

TEST_CASE("an undefined YAML alias is a syntax error on its line") {
  config_error e = load_error("workers: 1\nshutdown_timeout: *nope\n");
  CHECK(e.line == 2);
  CHECK(contains(e.reason, "invalid YAML"));
}

TEST_CASE("a truncated flow list is a syntax error") {
  config_error e = load_error("engineio:\n  allowed_origins: [\"https://a.example\"");
  CHECK(e.line > 0);
  CHECK(contains(e.reason, "invalid YAML: end of sequence flow not found"));
}

TEST_CASE("a bad indentation is a syntax error on its line") {
  config_error e = load_error("listen:\n  port: 8000\n address: 0.0.0.0\n");
  CHECK(e.line == 3);
  CHECK(contains(e.reason, "invalid YAML"));
}

TEST_CASE("a second YAML document is refused") {
  config_error e = load_error("workers: 1\n---\nworkers: 2\n");
  CHECK(e.line == 3);
  CHECK(contains(e.reason, "one YAML document"));
}

// yaml-cpp 0.7's LoadAll never returns on these (jbeder/yaml-cpp#1040); found by fuzz_config.
TEST_CASE("a stray comma is a syntax error on its line, not a hang") {
  config_error e = load_error(",");
  CHECK(e.line == 1);
  CHECK(contains(e.reason, "invalid YAML: unexpected ','"));
  config_error later = load_error("workers: 1\n---\n,\n");
  CHECK(later.line > 0);
  CHECK(contains(later.reason, "one YAML document"));
}

TEST_CASE("a top level that is a list is refused") {
  config_error e = load_error("- listen\n- redis\n");
  CHECK(e.line == 1);
  CHECK(contains(e.reason, "the top level must be a mapping"));
  CHECK(contains(e.reason, "got a list"));
}

TEST_CASE("a top level that is a scalar is refused") {
  config_error e = load_error("hello\n");
  CHECK(e.line == 1);
  CHECK(contains(e.reason, "the top level must be a mapping"));
  CHECK(contains(e.reason, "got 'hello'"));
}

TEST_CASE("a section that is not a mapping is refused") {
  config_error e = load_error("workers: 1\nlisten: 8000\n");
  CHECK(e.line == 2);
  CHECK(e.reason == "listen: expected a mapping of keys, got '8000'");
}

TEST_CASE("a duplicate key is refused at its second occurrence") {
  config_error e = load_error("listen:\n  port: 1000\n  port: 2000\n");
  CHECK(e.line == 3);
  CHECK(e.reason == "duplicate key 'listen.port'");
}

TEST_CASE("a duplicate section is refused") {
  config_error e = load_error("listen:\n  port: 1000\nworkers: 1\nlisten:\n  backlog: 5\n");
  CHECK(e.line == 4);
  CHECK(e.reason == "duplicate key 'listen'");
}

TEST_CASE("a key that is not a scalar is refused") {
  config_error e = load_error("listen:\n  ? [a, b]\n  : 1\n");
  CHECK(e.line == 2);
  CHECK(contains(e.reason, "expected a key name"));
}

// ---------------------------------------------------------------------------------------------
// Unknown keys

TEST_CASE("an unknown key names its full path") {
  config_error e = load_error("listen:\n  port: 8000\n  colour: blue\n");
  CHECK(e.line == 3);
  CHECK(e.reason == "unknown key 'listen.colour'");
}

TEST_CASE("an unknown key close to a known one gets a suggestion") {
  config_error e = load_error("listen:\n  address: 0.0.0.0\n  prot: 8000\n");
  CHECK(e.line == 3);
  CHECK(e.reason == "unknown key 'listen.prot'; did you mean 'port'?");
}

TEST_CASE("a misspelt section gets a suggestion") {
  config_error e = load_error("workers: 2\nlisen:\n  port: 8000\n");
  CHECK(e.line == 2);
  CHECK(e.reason == "unknown key 'lisen'; did you mean 'listen'?");
}

TEST_CASE("a section key at the top level suggests its full path") {
  config_error e = load_error("port: 8000\n");
  CHECK(e.line == 1);
  CHECK(e.reason == "unknown key 'port'; did you mean 'listen.port'?");
}

TEST_CASE("a top-level key inside a section says where it belongs") {
  config_error e = load_error("listen:\n  workers: 2\n");
  CHECK(e.line == 2);
  CHECK(e.reason == "unknown key 'listen.workers'; 'workers' belongs at the top level");
}

// ---------------------------------------------------------------------------------------------
// Wrong types

TEST_CASE("a word where an integer belongs is refused") {
  config_error e = load_error("listen:\n  port: abc\n");
  CHECK(e.line == 2);
  CHECK(e.reason == "listen.port: expected an integer, got 'abc'");
}

TEST_CASE("a list where an integer belongs is refused") {
  config_error e = load_error("workers:\n  - 1\n  - 2\n");
  CHECK(e.line == 2);
  CHECK(e.reason == "workers: expected an integer, got a list");
}

TEST_CASE("an empty value where an integer belongs is refused on the key's line") {
  config_error e = load_error("listen:\n  port:\n  backlog: 5\n");
  CHECK(e.line == 2);
  CHECK(e.reason == "listen.port: expected an integer, got nothing");
}

TEST_CASE("a hexadecimal integer is refused") {
  config_error e = load_error("workers: 0x10\n");
  CHECK(e.line == 1);
  CHECK(e.reason == "workers: expected an integer, got '0x10'");
}

TEST_CASE("a mapping where a string belongs is refused") {
  config_error e = load_error("redis:\n  key:\n    a: b\n");
  CHECK(e.line == 3);
  CHECK(e.reason == "redis.key: expected a string, got a mapping");
}

TEST_CASE("allowed_origins that is not a list is refused") {
  config_error e = load_error("engineio:\n  allowed_origins: https://a.example\n");
  CHECK(e.line == 2);
  CHECK(contains(e.reason, "engineio.allowed_origins: expected a list of origins"));
}

TEST_CASE("an origin with a trailing slash is refused") {
  config_error e = load_error("engineio:\n  allowed_origins:\n    - https://a.example\n"
                              "    - https://b.example/\n");
  CHECK(e.line == 4);
  CHECK(contains(e.reason, "engineio.allowed_origins[1]: 'https://b.example/' is not an origin"));
}

TEST_CASE("an origin without a scheme is refused") {
  config_error e = load_error("engineio:\n  allowed_origins: [a.example]\n");
  CHECK(e.line == 2);
  CHECK(contains(e.reason, "'a.example' is not an origin"));
}

TEST_CASE("an unknown log level is refused") {
  config_error e = load_error("log:\n  level: verbose\n");
  CHECK(e.line == 2);
  CHECK(e.reason == "log.level: expected one of debug, info, warn, error, got 'verbose'");
}

// ---------------------------------------------------------------------------------------------
// Ranges

TEST_CASE("port 0 is out of range") {
  config_error e = load_error("listen:\n  port: 0\n");
  CHECK(e.line == 2);
  CHECK(e.reason == "listen.port: must be between 1 and 65535, got '0'");
}

TEST_CASE("port 65536 is out of range") {
  config_error e = load_error("listen:\n  port: 65536\n");
  CHECK(e.line == 2);
  CHECK(e.reason == "listen.port: must be between 1 and 65535, got '65536'");
}

TEST_CASE("ports 1 and 65535 are accepted") {
  CHECK(load_ok("listen: {port: 1}").listen_port == 1);
  CHECK(load_ok("listen: {port: 65535}").listen_port == 65535);
}

TEST_CASE("a huge integer is out of range, not wrapped") {
  config_error e = load_error("listen:\n  port: 99999999999999999999999\n");
  CHECK(e.line == 2);
  CHECK(contains(e.reason, "listen.port: must be between 1 and 65535"));
}

TEST_CASE("backlog 0 is out of range") {
  config_error e = load_error("listen:\n  backlog: 0\n");
  CHECK(e.line == 2);
  CHECK(e.reason == "listen.backlog: must be between 1 and 65535, got '0'");
}

TEST_CASE("workers 129 is out of range") {
  config_error e = load_error("workers: 129\n");
  CHECK(e.line == 1);
  CHECK(e.reason == "workers: must be between 0 and 128, got '129'");
}

TEST_CASE("negative workers are out of range") {
  config_error e = load_error("\nworkers: -1\n");
  CHECK(e.line == 2);
  CHECK(e.reason == "workers: must be between 0 and 128, got '-1'");
}

TEST_CASE("workers 128 is accepted") { CHECK(load_ok("workers: 128").workers == 128); }

TEST_CASE("ping_interval below 50ms is out of range") {
  config_error e = load_error("engineio:\n  ping_interval: 49ms\n");
  CHECK(e.line == 2);
  CHECK(e.reason == "engineio.ping_interval: must be between 50ms and 1h, got '49ms'");
}

TEST_CASE("ping_interval above 1h is out of range") {
  config_error e = load_error("engineio:\n  ping_interval: 61m\n");
  CHECK(e.line == 2);
  CHECK(e.reason == "engineio.ping_interval: must be between 50ms and 1h, got '61m'");
}

TEST_CASE("ping_timeout of zero is out of range") {
  config_error e = load_error("engineio:\n  ping_timeout: 0\n");
  CHECK(e.line == 2);
  CHECK(e.reason == "engineio.ping_timeout: must be between 50ms and 1h, got '0'");
}

TEST_CASE("heartbeats of 50ms are accepted so tests can exercise timeouts") {
  config c = load_ok("engineio: {ping_interval: 50ms, ping_timeout: 50}");
  CHECK(c.ping_interval_ms == 50);
  CHECK(c.ping_timeout_ms == 50);
}

TEST_CASE("max_payload of zero is out of range") {
  config_error e = load_error("engineio:\n  max_payload: 0\n");
  CHECK(e.line == 2);
  CHECK(e.reason == "engineio.max_payload: must be between 1B and 100MiB, got '0'");
}

TEST_CASE("max_payload above 100MiB is out of range") {
  config_error e = load_error("engineio:\n  max_payload: 104857601\n");
  CHECK(e.line == 2);
  CHECK(e.reason == "engineio.max_payload: must be between 1B and 100MiB, got '104857601'");
}

TEST_CASE("max_payload of 100MiB is accepted") {
  CHECK(load_ok("engineio: {max_payload: 100MiB}").max_payload == 104857600u);
}

TEST_CASE("max_connections of zero is out of range") {
  config_error e = load_error("limits:\n  max_connections: 0\n");
  CHECK(e.line == 2);
  CHECK(e.reason == "limits.max_connections: must be between 1 and 10000000, got '0'");
}

TEST_CASE("max_connections above ten million is out of range") {
  config_error e = load_error("limits:\n  max_connections: 10000001\n");
  CHECK(e.line == 2);
  CHECK(e.reason == "limits.max_connections: must be between 1 and 10000000, got '10000001'");
}

TEST_CASE("max_backpressure below 1KiB is out of range") {
  config_error e = load_error("limits:\n  max_backpressure: 1023\n");
  CHECK(e.line == 2);
  CHECK(e.reason == "limits.max_backpressure: must be at least 1KiB, got '1023'");
}

TEST_CASE("max_backpressure of 1KiB is accepted") {
  CHECK(load_ok("limits: {max_backpressure: 1KiB}").max_backpressure == 1024);
}

TEST_CASE("max_header_size below 1KiB is out of range") {
  config_error e = load_error("limits:\n  max_header_size: 1000\n");
  CHECK(e.line == 2);
  CHECK(e.reason == "limits.max_header_size: must be between 1KiB and 1MiB, got '1000'");
}

TEST_CASE("max_header_size above 1MiB is out of range") {
  config_error e = load_error("limits:\n  max_header_size: 2MiB\n");
  CHECK(e.line == 2);
  CHECK(e.reason == "limits.max_header_size: must be between 1KiB and 1MiB, got '2MiB'");
}

TEST_CASE("shutdown_timeout of zero is accepted") {
  CHECK(load_ok("shutdown_timeout: 0").shutdown_timeout_ms == 0);
}

TEST_CASE("shutdown_timeout above 1h is out of range") {
  config_error e = load_error("shutdown_timeout: 3600001\n");
  CHECK(e.line == 1);
  CHECK(e.reason == "shutdown_timeout: must be between 0 and 1h, got '3600001'");
}

TEST_CASE("a negative duration is out of range") {
  config_error e = load_error("redis:\n  connect_timeout: -5s\n");
  CHECK(e.line == 2);
  CHECK(e.reason == "redis.connect_timeout: must be between 1ms and 1h, got '-5s'");
}

TEST_CASE("an empty redis key is refused") {
  config_error e = load_error("redis:\n  key: \"\"\n");
  CHECK(e.line == 2);
  CHECK(e.reason == "redis.key: must not be empty");
}

TEST_CASE("a redis key with '#' is refused") {
  config_error e = load_error("redis:\n  url: redis://127.0.0.1\n  key: \"a#b\"\n");
  CHECK(e.line == 3);
  CHECK(e.reason == "redis.key: must not contain '#', got 'a#b'");
}

TEST_CASE("a listen address that is not an IP literal is refused") {
  config_error e = load_error("listen:\n  address: localhost\n");
  CHECK(e.line == 2);
  CHECK(contains(e.reason, "listen.address: 'localhost' is not an IPv4 or IPv6 address"));
}

TEST_CASE("a bad redis url in a file is reported on its line") {
  config_error e = load_error("workers: 1\nredis:\n  key: k\n  url: redis://host:port\n");
  CHECK(e.line == 4);
  CHECK(e.reason == "redis.url: port 'port' is not a number");
}

TEST_CASE("a redis url error does not repeat the password") {
  config_error e = load_error("redis:\n  url: redis://:s3cret@host:x\n");
  CHECK(e.line == 2);
  CHECK_FALSE(contains(e.reason, "s3cret"));
}

// ---------------------------------------------------------------------------------------------
// Files and messages

TEST_CASE("a config file is read from disk") {
  temp_file f("listen:\n  port: 8123\n");
  auto r = load_config_file(f.path);
  REQUIRE(r.has_value());
  CHECK(r->listen_port == 8123);
}

TEST_CASE("an error in a file names the file") {
  temp_file f("listen:\n  port: 0\n");
  auto r = load_config_file(f.path);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().file == f.path);
  CHECK(r.error().line == 2);
  CHECK(r.error().message() == f.path + ":2: listen.port: must be between 1 and 65535, got '0'");
}

TEST_CASE("a missing file reports strerror") {
  auto r = load_config_file("/nonexistent/chatd.yaml");
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().file == "/nonexistent/chatd.yaml");
  CHECK(r.error().line == 0);
  CHECK(r.error().reason == std::string("cannot open: ") + strerror(ENOENT));
}

TEST_CASE("a directory given as the file reports strerror") {
  auto r = load_config_file("/tmp");
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().line == 0);
  CHECK(r.error().reason == std::string("cannot read: ") + strerror(EISDIR));
}

TEST_CASE("an error message has file, line and reason") {
  config_error e{"a.yaml", 7, "bad thing"};
  CHECK(e.message() == "a.yaml:7: bad thing");
}

TEST_CASE("an error message without a line has file and reason") {
  config_error e{"<command line>", 0, "bad thing"};
  CHECK(e.message() == "<command line>: bad thing");
}

// ---------------------------------------------------------------------------------------------
// validate_config

TEST_CASE("validate_config parses redis_url into the endpoint") {
  config c;
  c.redis_url = "redis://:pw@redis.internal:7000/3";
  auto r = validate_config(c, "<command line>");
  REQUIRE(r.has_value());
  CHECK(r->redis.host == "redis.internal");
  CHECK(r->redis.port == 7000);
  CHECK(r->redis.password == "pw");
  CHECK(r->redis.db == 3);
}

TEST_CASE("validate_config names the source of a bad redis url") {
  config c;
  c.redis_url = "http://x";
  auto r = validate_config(c, "<command line>");
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().file == "<command line>");
  CHECK(r.error().line == 0);
  CHECK(contains(r.error().reason, "redis.url: unsupported scheme 'http'"));
}

TEST_CASE("validate_config refuses workers out of range") {
  config c;
  c.workers = 500;
  auto r = validate_config(c, "<command line>");
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().message() == "<command line>: workers: must be between 0 and 128, got '500'");
}

TEST_CASE("validate_config refuses port 0") {
  config c;
  c.listen_port = 0;
  auto r = validate_config(c, "<command line>");
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().reason == "listen.port: must be between 1 and 65535, got '0'");
}

TEST_CASE("validate_config refuses a zero ping interval") {
  config c;
  c.ping_interval_ms = 0;
  auto r = validate_config(c, "x");
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().reason == "engineio.ping_interval: must be between 50ms and 1h, got '0'");
}

TEST_CASE("validate_config accepts IPv4 and IPv6 listen addresses") {
  for (const char* addr : {"0.0.0.0", "127.0.0.1", "::", "::1", "fe80::1:2"}) {
    config c;
    c.listen_address = addr;
    INFO(addr);
    CHECK(validate_config(c, "x").has_value());
  }
}

TEST_CASE("validate_config refuses a listen address that is not an IP literal") {
  for (const char* addr : {"", "localhost", "1.2.3", "256.0.0.1", "[::1]", "::1%lo"}) {
    config c;
    c.listen_address = addr;
    INFO(addr);
    auto r = validate_config(c, "x");
    REQUIRE_FALSE(r.has_value());
    CHECK(contains(r.error().reason, "listen.address"));
  }
}

TEST_CASE("validate_config refuses an out-of-range log level or format") {
  config c;
  c.log_level = static_cast<log::level>(7);
  auto r = validate_config(c, "x");
  REQUIRE_FALSE(r.has_value());
  CHECK(contains(r.error().reason, "log.level"));
  config f;
  f.log_format = static_cast<log::format>(7);
  auto rf = validate_config(f, "x");
  REQUIRE_FALSE(rf.has_value());
  CHECK(contains(rf.error().reason, "log.format"));
}

// ---------------------------------------------------------------------------------------------
// worker_count

TEST_CASE("worker_count is workers when set") {
  config c;
  c.workers = 5;
  CHECK(c.worker_count() == 5);
}

TEST_CASE("worker_count is the number of online CPUs when workers is 0") {
  config c;
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  CHECK(c.worker_count() == std::clamp<long>(cpus, 1, 128));
  CHECK(c.worker_count() >= 1);
}

// --- auth: ---------------------------------------------------------------------------------

namespace {
const std::string k_keys = CHATD_SOURCE_DIR "/tests/fixtures/jwt/";
}

TEST_CASE("auth: every key is read, and the key files with it") {
  config c = load_ok("auth:\n  enabled: true\n  algorithms: [HS256, RS256, ES256]\n"
                     "  secret_file: " + k_keys + "hs_secret.txt\n"
                     "  jwks_file: " + k_keys + "jwks.json\n"
                     "  issuer: https://issuer.example\n  audience: chatd\n  leeway: 5s\n"
                     "  user_claim: uid\n  channels_claim: channels\n  mismatched_user_id: rewrite\n");
  CHECK(c.auth.enabled);
  CHECK(c.auth.policy.algorithms ==
        std::vector<signing_alg>{signing_alg::hs256, signing_alg::rs256, signing_alg::es256});
  CHECK(c.auth.policy.issuer == "https://issuer.example");
  CHECK(c.auth.policy.audience == "chatd");
  CHECK(c.auth.policy.leeway_ms == 5000);
  CHECK(c.auth.policy.user_claim == "uid");
  CHECK(c.auth.policy.channels_claim == "channels");
  CHECK(c.auth.rewrite_user_id);
  CHECK(c.auth.keys.secret == "test-secret-of-the-fixtures-0123456789");
  CHECK(c.auth.keys.from_jwks);
  CHECK(c.auth.keys.keys.size() == 3);
}

TEST_CASE("auth: a missing key file is an error at the line of its key") {
  auto e = load_error("auth:\n  enabled: true\n  secret_file: /nonexistent/secret\n");
  CHECK(e.message() ==
        "test.yaml:3: auth.secret_file: /nonexistent/secret: cannot open: No such file or directory");
}

TEST_CASE("auth: a key file that holds no key of its kind is an error with the reason") {
  auto pem = load_error("auth:\n  enabled: true\n  algorithms: [RS256]\n  public_key_file: " +
                        k_keys + "hs_secret.txt\n");
  CHECK(pem.line == 4);
  CHECK(contains(pem.reason, "not a PEM public key"));
  auto ec = load_error("auth:\n  enabled: true\n  algorithms: [RS256]\n  public_key_file: " +
                       k_keys + "ec_public.pem\n");
  CHECK(ec.line == 4);
  CHECK(contains(ec.reason, "auth.public_key_file: no key in it can verify RS256"));
  auto jwks = load_error("auth:\n  enabled: true\n  algorithms: [ES256]\n  jwks_file: " + k_keys +
                         "rsa_public.pem\n");
  CHECK(jwks.line == 4);
  CHECK(contains(jwks.reason, "not valid JSON"));
}

TEST_CASE("auth: each algorithm needs its key file") {
  CHECK(load_error("auth:\n  enabled: true\n").message() ==
        "test.yaml: auth.algorithms: an HS algorithm needs auth.secret_file");
  auto both = load_error("auth:\n  enabled: true\n  algorithms: [RS256]\n  public_key_file: a\n"
                         "  jwks_file: b\n");
  CHECK(both.line == 3);
  CHECK(contains(both.reason, "exactly one of auth.public_key_file and auth.jwks_file"));
}

TEST_CASE("auth: none and unknown algorithms are refused") {
  auto none = load_error("auth:\n  algorithms: [HS256, none]\n");
  CHECK(none.line == 2);
  CHECK(contains(none.reason, "auth.algorithms[1]: expected one of HS256"));
  CHECK(contains(load_error("auth:\n  algorithms: [HS256, HS256]\n").reason, "listed twice"));
  CHECK(contains(load_error("auth:\n  mismatched_user_id: ignore\n").reason,
                 "expected refuse or rewrite, got 'ignore'"));
  CHECK(contains(load_error("auth:\n  user_claim: \"\"\n").reason, "auth.user_claim"));
}

TEST_CASE("auth: off, the key files are not read") {
  config c = load_ok("auth:\n  enabled: false\n  secret_file: /nonexistent/secret\n");
  CHECK_FALSE(c.auth.enabled);
  CHECK(c.auth.keys.secret.empty());
}

TEST_CASE("redis.mode cluster: seed nodes load, redis.url is the seed when none are given") {
  CHECK_FALSE(config{}.redis_cluster);
  config c = load_ok("redis:\n  mode: cluster\n  nodes:\n    - redis://10.0.0.1:7000\n"
                     "    - redis://:pw@10.0.0.2:7001\n");
  CHECK(c.redis_cluster);
  REQUIRE(c.redis_seeds.size() == 2);
  CHECK(c.redis_seeds[0].host == "10.0.0.1");
  CHECK(c.redis_seeds[0].port == 7000);
  CHECK(c.redis_seeds[1].password == "pw");
  config one = load_ok("redis:\n  mode: cluster\n  url: redis://127.0.0.1:7005\n");
  REQUIRE(one.redis_seeds.size() == 1);
  CHECK(one.redis_seeds[0].port == 7005);
  CHECK(load_ok("redis:\n  mode: standalone\n").redis_seeds.empty());
}

TEST_CASE("redis.mode cluster: bad values are refused with the line and the reason") {
  config_error e = load_error("redis:\n  mode: sharded\n");
  CHECK(e.line == 2);
  CHECK(e.reason == "redis.mode: expected cluster or standalone, got 'sharded'");
  e = load_error("redis:\n  mode: cluster\n  nodes:\n    - http://x:1\n");
  CHECK(e.line == 4);
  CHECK(e.reason.find("redis.nodes[0]") == 0);
  e = load_error("redis:\n  mode: cluster\n  nodes:\n    - unix:///tmp/r.sock\n");
  CHECK(e.reason.find("not a Unix socket") != std::string::npos);
  e = load_error("redis:\n  mode: cluster\nrecovery:\n  enabled: true\n");
  CHECK(e.reason.find("recovery.enabled: connection state recovery needs redis.mode: standalone") == 0);
}

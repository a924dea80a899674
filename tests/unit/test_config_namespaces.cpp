// The `namespaces:` section: each namespace's application and options, their defaults from the
// global keys, and every refusal with its file and line.

#include "common/config.h"
#include "common/config_namespaces.h"

#include <doctest/doctest.h>

using namespace chatd;

namespace {

config load_ok(const std::string& yaml) {
  auto r = load_config_string(yaml, "ns.yaml");
  INFO(yaml);
  REQUIRE_MESSAGE(r.has_value(), (r ? std::string() : r.error().message()));
  return *r;
}

std::string load_error(const std::string& yaml) {
  auto r = load_config_string(yaml, "ns.yaml");
  INFO(yaml);
  REQUIRE_FALSE(r.has_value());
  return r.error().message();
}

}  // namespace

TEST_CASE("namespaces: none configured means \"/\" served by chat with the global options") {
  config c = load_ok("limits:\n  message_rate: 7\n");
  REQUIRE(c.namespaces.size() == 1);
  CHECK(c.namespaces[0].name == "/");
  CHECK(c.namespaces[0].app == app_kind::chat);
  CHECK(c.namespaces[0].auth == false);
  CHECK(c.namespaces[0].message_rate == 7u);
  CHECK(c.namespaces[0].message_burst == 300u);
  CHECK(c.namespaces[0].message_rate_disconnect == false);
  CHECK(find_namespace(c, "/") == &c.namespaces[0]);
  CHECK(find_namespace(c, "/admin") == nullptr);
}

TEST_CASE("namespaces: each one's app and options; unset options take the global ones") {
  config c = load_ok(
      "limits:\n  message_burst: 9\n"
      "namespaces:\n"
      "  /:\n    app: chat\n"
      "  /echo:\n    app: echo\n    message_rate: 0\n    message_rate_action: disconnect\n"
      "  /custom: {app: echo, message_burst: 2}\n");
  REQUIRE(c.namespaces.size() == 3);
  CHECK(c.namespaces[1].name == "/echo");
  CHECK(c.namespaces[1].app == app_kind::echo);
  CHECK(c.namespaces[1].message_rate == 0u);
  CHECK(c.namespaces[1].message_burst == 9u);
  CHECK(c.namespaces[1].message_rate_disconnect == true);
  CHECK(c.namespaces[2].message_burst == 2u);
  CHECK(c.namespaces[2].message_rate == 100u);
}

TEST_CASE("namespaces: a file without \"/\" does not serve it") {
  config c = load_ok("namespaces:\n  /echo: {app: echo}\n");
  REQUIRE(c.namespaces.size() == 1);
  CHECK(find_namespace(c, "/") == nullptr);
}

TEST_CASE("namespaces: auth per namespace; on needs auth.enabled, off may opt one out") {
  CHECK(load_error("namespaces:\n  /: {app: chat}\n  /secure:\n    app: echo\n    auth: on\n") ==
        "ns.yaml:3: namespaces./secure: auth: on needs auth.enabled: true (the keys and the token "
        "policy)");
}

TEST_CASE("namespaces: bad names, apps, keys and values are refused with their line") {
  CHECK(load_error("namespaces:\n  chat: {app: chat}\n") ==
        "ns.yaml:2: namespaces: 'chat' is not a namespace name (it starts with '/', e.g. /chat)");
  CHECK(load_error("namespaces:\n  /a,b: {app: echo}\n") ==
        "ns.yaml:2: namespaces: '/a,b' may not contain spaces, control characters, ',', '?' or '#'");
  CHECK(load_error("namespaces:\n  /x:\n    app: relay\n") ==
        "ns.yaml:3: namespaces./x.app: expected chat or echo, got 'relay'");
  CHECK(load_error("namespaces:\n  /x:\n    message_rate: 1\n") ==
        "ns.yaml:2: namespaces./x: missing key 'app' (chat or echo)");
  CHECK(load_error("namespaces:\n  /x:\n    app: echo\n    rate: 1\n") ==
        "ns.yaml:4: namespaces./x: unknown key 'rate' (known: app, auth, message_rate, "
        "message_burst, message_rate_action)");
  CHECK(load_error("namespaces:\n  /x:\n    app: echo\n    message_burst: 0\n") ==
        "ns.yaml:4: namespaces./x.message_burst: expected an integer in 1-1000000, got '0'");
  CHECK(load_error("namespaces:\n  /x:\n    app: echo\n    auth: maybe\n") ==
        "ns.yaml:4: namespaces./x.auth: expected true or false, got 'maybe'");
  CHECK(load_error("namespaces:\n  /x:\n    app: echo\n    message_rate_action: kick\n") ==
        "ns.yaml:4: namespaces./x.message_rate_action: expected drop or disconnect, got 'kick'");
  CHECK(load_error("namespaces:\n  /chat2: {app: chat}\n") ==
        "ns.yaml:2: namespaces./chat2: app chat serves \"/\" only (the namespace the Redis "
        "adapter's rooms live on)");
  CHECK(load_error("namespaces: [/a]\n") ==
        "ns.yaml:1: namespaces: expected a mapping of namespace names to their options, e.g. "
        "namespaces: {/: {app: chat}}");
  CHECK(load_error("namespaces:\n  /x: 3\n") ==
        "ns.yaml:2: namespaces./x: expected a mapping of options (app, auth, message_rate, ...)");
}

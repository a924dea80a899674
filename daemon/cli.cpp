// Command-line parsing for the master. Only the shape of each value is checked here (a number
// is a number, a level is a level); what the values mean together is config validation's job.

#include "daemon/cli.h"

#include "common/config.h"
#include "common/limits.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <charconv>
#include <string_view>

namespace chatd {
namespace {

// Bigger counts are refused by config validation; this only keeps the number sane to parse.
constexpr long k_max_cli_number = 1 << 20;

expected<long, std::string> parse_number(std::string_view option, std::string_view text,
                                         long min, long max) {
  long value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < min || value > max) {
    return unexpected(fmt::format("{}: expected a number from {} to {}, got '{}'", option, min,
                                  max, text));
  }
  return value;
}

// Options that take a value; a flag's value would be a mistake.
bool takes_value(std::string_view name) {
  return name == "--config" || name == "--workers" || name == "--port" || name == "--listen" ||
         name == "--redis" || name == "--log-level";
}

}  // namespace

expected<cli_options, std::string> parse_cli(std::span<char* const> args) {
  cli_options out;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string_view arg = args[i];
    std::string_view name = arg;
    std::optional<std::string_view> value;
    if (arg.starts_with("--")) {
      if (auto eq = arg.find('='); eq != std::string_view::npos) {
        name = arg.substr(0, eq);
        value = arg.substr(eq + 1);
      }
    }
    if (name == "-h") name = "--help";

    if (takes_value(name)) {
      if (!value) {
        if (i + 1 >= args.size()) return unexpected(fmt::format("{}: missing value", name));
        value = args[++i];
      }
    } else if (value) {
      return unexpected(fmt::format("{}: takes no value", name));
    }

    if (name == "--help") {
      out.help = true;
    } else if (name == "--version") {
      out.version = true;
    } else if (name == "--check-config") {
      out.check_config = true;
    } else if (name == "--config") {
      if (value->empty()) return unexpected(std::string("--config: empty file name"));
      out.config_path = std::string(*value);
    } else if (name == "--workers") {
      auto n = parse_number(name, *value, 0, k_max_cli_number);
      if (!n) return unexpected(n.error());
      out.overrides.workers = static_cast<int>(*n);
    } else if (name == "--port") {
      auto n = parse_number(name, *value, 1, 65535);
      if (!n) return unexpected(n.error());
      out.overrides.port = static_cast<uint16_t>(*n);
    } else if (name == "--listen") {
      if (value->empty()) return unexpected(std::string("--listen: empty address"));
      out.overrides.listen_address = std::string(*value);
    } else if (name == "--redis") {
      if (value->empty()) return unexpected(std::string("--redis: empty URL"));
      out.overrides.redis_url = std::string(*value);
    } else if (name == "--log-level") {
      log::level l;
      if (!log::parse_level(*value, l)) {
        return unexpected(fmt::format("--log-level: expected one of {}, got '{}'",
                                      fmt::join(log::level_names, ", "), *value));
      }
      out.overrides.log_level = l;
    } else if (arg.starts_with("-")) {
      return unexpected(fmt::format("unknown option '{}'", arg));
    } else {
      return unexpected(fmt::format("unexpected argument '{}'", arg));
    }
  }
  return out;
}

std::string usage_text() {
  return fmt::format(
      "Usage: chatd [OPTIONS]\n"
      "\n"
      "A pre-forked Socket.IO 4 chat daemon: one master, one worker process per CPU,\n"
      "rooms shared across workers and hosts through Redis.\n"
      "\n"
      "Options (each one overrides the configuration file, also across reloads):\n"
      "  --config FILE      configuration file (default: {0} if it exists,\n"
      "                     else built-in defaults)\n"
      "  --workers N        worker processes; 0 = one per CPU (at most {1})\n"
      "  --port P           TCP port to listen on\n"
      "  --listen ADDR      IPv4 or IPv6 address to listen on (\"::\" = both families)\n"
      "  --redis URL        redis://[:password@]host[:port][/db] or unix:///path\n"
      "  --log-level L      one of {2}\n"
      "  --check-config     validate the configuration, print a summary and exit\n"
      "  --version          print the version and exit\n"
      "  -h, --help         print this help and exit\n"
      "\n"
      "Signals to the master: SIGHUP reloads the configuration (new workers start, old\n"
      "ones drain); SIGTERM or SIGINT stops gracefully, a second one stops at once.\n"
      "\n"
      "Exit status: 0 ok, 1 configuration or start-up error, 64 bad usage.\n",
      k_default_config_path, k_max_workers, fmt::join(log::level_names, ", "));
}

}  // namespace chatd

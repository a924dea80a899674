#pragma once
// The command line of `chatd`: parsed once into a plain struct. The overrides it carries are kept
// by the master for its whole life, so that a reload re-applies them on top of the re-read file.

#include "common/expected.h"
#include "common/log.h"

#include <cstdint>
#include <optional>
#include <span>
#include <string>

namespace chatd {

// Exit codes of the master. Usage errors follow sysexits' EX_USAGE so that a wrapper script can
// tell "you called me wrong" from "your config is wrong" (1, like nginx -t).
inline constexpr int k_exit_ok = 0;
inline constexpr int k_exit_failure = 1;  // bad config, cannot listen, no worker left
inline constexpr int k_exit_usage = 64;

// Values given on the command line; each one set replaces the file's value.
struct cli_overrides {
  std::optional<int> workers;
  std::optional<uint16_t> port;
  std::optional<std::string> listen_address;
  std::optional<std::string> redis_url;
  std::optional<log::level> log_level;

  bool empty() const {
    return !workers && !port && !listen_address && !redis_url && !log_level;
  }
};

struct cli_options {
  std::optional<std::string> config_path;  // --config; unset: the default path if it exists
  cli_overrides overrides;
  bool check_config = false;
  bool version = false;
  bool help = false;
};

// Parses the arguments after argv[0]. The error is one line for the user, without the program
// name. Accepts "--opt value" and "--opt=value".
expected<cli_options, std::string> parse_cli(std::span<char* const> args);

// The --help text.
std::string usage_text();

}  // namespace chatd

#pragma once
// Where the master's configuration comes from: the file (given, or the installed default when it
// exists, or none), then the command-line overrides, then validation. The same function serves
// start-up, --check-config and every reload, so the three can never disagree.

#include "common/config.h"
#include "common/expected.h"
#include "common/limits.h"
#include "daemon/cli.h"

#include <string>

namespace chatd {

// Builds a complete, validated config from `cli`. Reads the file anew on every call.
expected<config, config_error> load_effective_config(const cli_options& cli);

// The file the config is read from ("<defaults>" when none); for log lines.
std::string config_origin(const cli_options& cli);

// One line saying what will run: listen address, workers, redis, log level.
std::string describe_config(const config& c);

}  // namespace chatd

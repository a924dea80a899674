// chatd's entry point: command line, configuration, then the master. Everything that can be
// refused (usage, config, listening address) is refused here, before any worker exists.

#include "common/config.h"
#include "common/log.h"
#include "common/stats.h"
#include "daemon/cli.h"
#include "daemon/config_source.h"
#include "daemon/fd_limit.h"
#include "daemon/listeners.h"
#include "daemon/master.h"
#include "daemon/proc_title.h"

#include <fmt/format.h>

#include <cstdio>
#include <span>
#include <string>

using namespace chatd;

namespace {

std::string join_args(int argc, char** argv) {
  std::string out;
  for (int i = 0; i < argc; ++i) {
    if (i > 0) out += ' ';
    out += argv[i];
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::string command_line = join_args(argc, argv);
  proc_title::init(argc, argv);

  auto cli = parse_cli(std::span<char* const>(argv + 1, argc > 0 ? argc - 1 : 0));
  if (!cli) {
    fmt::print(stderr, "chatd: {}\nTry 'chatd --help'.\n", cli.error());
    return k_exit_usage;
  }
  if (cli->help) {
    fmt::print("{}", usage_text());
    return k_exit_ok;
  }
  if (cli->version) {
    fmt::print("chatd {}\n", CHATD_VERSION);
    return k_exit_ok;
  }

  auto cfg = load_effective_config(*cli);
  if (cli->check_config) {
    // Like nginx -t: the verdict on stdout when good, the reason on stderr when not.
    if (!cfg) {
      fmt::print(stderr, "{}\n", cfg.error().message());
      return k_exit_failure;
    }
    fmt::print("configuration ok: {} (from {})\n", describe_config(*cfg), config_origin(*cli));
    return k_exit_ok;
  }

  log::set_role("master");
  // Once, before the first line: workers inherit it with the rest of the process.
  log::set_journal(log::stderr_is_journal());
  if (!cfg) {
    log::error("configuration refused: {}", cfg.error().message());
    return k_exit_failure;
  }
  log::set_level(cfg->log_level);
  log::set_format(cfg->log_format);
  log::info("chatd {} starting, configuration from {}", CHATD_VERSION, config_origin(*cli));

  uint64_t fd_limit = raise_fd_limit();
  warn_if_fd_limit_too_low(*cfg, fd_limit);

  // Before the first fork: every worker inherits the same shared pages.
  stats_segment* stats = stats_segment::create();
  if (stats == nullptr) return k_exit_failure;

  listen_endpoint ep{cfg->listen_address, cfg->listen_port};
  auto listeners = listener_group::open(ep, static_cast<size_t>(cfg->worker_count()),
                                        cfg->listen_backlog);
  if (!listeners) {
    log::error("{}", listeners.error());
    return k_exit_failure;
  }
  log::info("listening on {} ({} SO_REUSEPORT sockets, backlog {})", ep.describe(),
            cfg->worker_count(), cfg->listen_backlog);

  proc_title::set("chatd: master process " + command_line);
  master m(std::move(*cli), std::move(*cfg), std::move(*listeners), stats, fd_limit);
  return m.run();
}

// Builds the effective configuration: file, then overrides, then one validation pass.

#include "daemon/config_source.h"

#include <fmt/format.h>

#include <unistd.h>

namespace chatd {
namespace {

// The file to read: --config, else the installed default when present, else none.
std::optional<std::string> file_to_read(const cli_options& cli) {
  if (cli.config_path) return cli.config_path;
  if (access(k_default_config_path, F_OK) == 0) return std::string(k_default_config_path);
  return std::nullopt;
}

void apply_overrides(config& c, const cli_overrides& o) {
  if (o.workers) c.workers = *o.workers;
  if (o.port) c.listen_port = *o.port;
  if (o.listen_address) c.listen_address = *o.listen_address;
  if (o.redis_url) c.redis_url = *o.redis_url;
  if (o.log_level) c.log_level = *o.log_level;
}

}  // namespace

std::string config_origin(const cli_options& cli) {
  return file_to_read(cli).value_or("<defaults>");
}

expected<config, config_error> load_effective_config(const cli_options& cli) {
  config base;
  std::string source = "<defaults>";
  if (auto path = file_to_read(cli)) {
    auto loaded = load_config_file(*path);
    if (!loaded) return unexpected(loaded.error());
    base = std::move(*loaded);
    source = *path;
  }
  if (!cli.overrides.empty()) {
    // A value that fails now came from the command line (the file alone was valid).
    source = "<command line>";
  }
  apply_overrides(base, cli.overrides);
  auto valid = validate_config(std::move(base), source);
  if (!valid) return valid;
  if (valid->worker_count() > k_max_workers) {
    return unexpected(config_error{
        source, 0,
        fmt::format("workers: {} is more than the {} a reload can run side by side",
                    valid->worker_count(), k_max_workers)});
  }
  return valid;
}

namespace {

// Where Redis is, passwords masked: one URL, or the cluster's seed nodes.
std::string describe_redis(const config& c) {
  if (!c.redis_cluster) return c.redis.describe();
  std::string out = "cluster (seeds";
  for (const redis_endpoint& e : c.redis_seeds) out += " " + e.describe();
  return out + ")";
}

}  // namespace

std::string describe_config(const config& c) {
  bool v6 = c.listen_address.find(':') != std::string::npos;
  return fmt::format("listen {}{}{}:{}, {} worker{}{}, redis {}, shutdown_timeout {} ms, log {} {}",
                     v6 ? "[" : "", c.listen_address, v6 ? "]" : "", c.listen_port,
                     c.worker_count(), c.worker_count() == 1 ? "" : "s",
                     c.workers == 0 ? " (one per CPU)" : "", describe_redis(c),
                     c.shutdown_timeout_ms, log::level_name(c.log_level),
                     log::format_name(c.log_format));
}

}  // namespace chatd

// sd_notify through libsystemd. A failure to notify is logged at debug level and otherwise
// ignored: the daemon serves the same with or without a service manager.

#include "daemon/notify.h"

#include "common/log.h"

#include <fmt/format.h>
#include <systemd/sd-daemon.h>

#include <cstring>
#include <ctime>
#include <string>

namespace chatd::notify {
namespace {

void send(const std::string& message) {
  int r = sd_notify(0, message.c_str());
  if (r < 0) log::debug("sd_notify failed: {}", strerror(-r));
}

uint64_t monotonic_usec() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000u + static_cast<uint64_t>(ts.tv_nsec) / 1000u;
}

}  // namespace

void ready(std::string_view status) { send(fmt::format("READY=1\nSTATUS={}", status)); }

void reloading(std::string_view status) {
  send(fmt::format("RELOADING=1\nMONOTONIC_USEC={}\nSTATUS={}", monotonic_usec(), status));
}

void stopping(std::string_view status) { send(fmt::format("STOPPING=1\nSTATUS={}", status)); }

void status(std::string_view status) { send(fmt::format("STATUS={}", status)); }

}  // namespace chatd::notify

#pragma once
// The master's messages to systemd (sd_notify). Without NOTIFY_SOCKET every call does nothing,
// so the master calls these unconditionally. Only the master notifies: workers report to it.

#include <string_view>

namespace chatd::notify {

// READY=1 with a STATUS= line: every worker of the current generation accepts.
void ready(std::string_view status);
// RELOADING=1 with MONOTONIC_USEC= (systemd ties the reload to this instant).
void reloading(std::string_view status);
// STOPPING=1.
void stopping(std::string_view status);
// STATUS= only.
void status(std::string_view status);

}  // namespace chatd::notify

// socket.handshake.time as Node prints it.

#include "common/js_date.h"

#include <doctest/doctest.h>

#include <cstdlib>
#include <ctime>
#include <string>

TEST_CASE("js_date_string prints as Date.prototype.toString, in UTC") {
  const char* old = std::getenv("TZ");
  std::string saved = old != nullptr ? old : "";
  setenv("TZ", "UTC", 1);
  tzset();
  // new Date(1764755151000).toString() with TZ=UTC
  CHECK(chatd::js_date_string(1764755151000) ==
        "Wed Dec 03 2025 09:45:51 GMT+0000 (Coordinated Universal Time)");
  CHECK(chatd::js_date_string(0) == "Thu Jan 01 1970 00:00:00 GMT+0000 (Coordinated Universal Time)");
  if (old != nullptr) {
    setenv("TZ", saved.c_str(), 1);
  } else {
    unsetenv("TZ");
  }
  tzset();
}

// See js_date.h.

#include "common/js_date.h"

#include <fmt/format.h>

#include <ctime>
#include <string_view>

namespace chatd {

std::string js_date_string(uint64_t ms_since_epoch) {
  const time_t t = static_cast<time_t>(ms_since_epoch / 1000);
  tm local{};
  localtime_r(&t, &local);
  char head[32];
  strftime(head, sizeof(head), "%a %b %d %Y %H:%M:%S", &local);
  const long offset_min = local.tm_gmtoff / 60;
  const char sign = offset_min < 0 ? '-' : '+';
  const long abs_min = offset_min < 0 ? -offset_min : offset_min;
  std::string_view zone = local.tm_zone != nullptr ? local.tm_zone : "";
  if (offset_min == 0 && (zone == "UTC" || zone == "GMT" || zone.empty())) {
    zone = "Coordinated Universal Time";
  }
  return fmt::format("{} GMT{}{:02}{:02} ({})", head, sign, abs_min / 60, abs_min % 60, zone);
}

}  // namespace chatd

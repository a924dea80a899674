#pragma once
// The demo chat page served at "/" (web/index.html, embedded at build time so the daemon needs no
// files at run time).

#include <string_view>

namespace chatd {

std::string_view demo_page();

}  // namespace chatd

#pragma once
// Process titles as `ps` shows them ("chatd: master ...", "chatd: worker 1"): the kernel reads
// /proc/<pid>/cmdline from the memory that held argv, so the title is written there, after the
// environment strings that follow argv have been moved out of the way. The short name
// (PR_SET_NAME, 15 bytes, used by top and pgrep) is set too.

#include <string_view>

namespace chatd::proc_title {

// Call once at the start of main, before anything keeps pointers into argv or the environment.
void init(int argc, char** argv);
// Replaces the title; cut to the space argv and the environment occupied.
void set(std::string_view title);

}  // namespace chatd::proc_title

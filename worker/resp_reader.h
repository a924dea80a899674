#pragma once
// hiredis' reply reader with a bound on what a reply may make it allocate. hiredis 0.14 allocates
// a multi-bulk's element array when it reads the header ("*420521903\r\n" is 3 GB of calloc
// before a single element arrives; found by fuzz_cluster_slot) and has no maxelements setting.
// This reader refuses, as a protocol error, a reply whose arrays declare more than
// k_max_reply_elements elements in all (every nesting level counted): a few times the largest
// reply chatd asks for, far below what hurts a worker.

#include <hiredis/hiredis.h>

#include <cstddef>

namespace chatd {

// 4 Mi element pointers: 32 MiB. CLUSTER SLOTS of a 16384-range cluster is ~100 k elements.
inline constexpr size_t k_max_reply_elements = size_t{1} << 22;

// Elements declared by the reply being read; it starts again at each reply's outermost array.
struct reply_budget {
  size_t elements = 0;
};

// A reader using hiredis' default reply objects (freeReplyObject frees them) under `budget`,
// which must outlive it; nullptr when out of memory. Free it with redisReaderFree.
redisReader* create_bounded_reader(reply_budget* budget);

}  // namespace chatd

// The flush and close lists: a drained batch must not come back, or every later pass walks it.

#include "worker/work_list.h"

#include <doctest/doctest.h>

#include <vector>

using chatd::work_list;

TEST_CASE("a recycled batch leaves the list empty, keeping only its buffer") {
  work_list<int> list;
  int items[100];
  for (int& i : items) list.push(&i);
  auto batch = list.take();
  CHECK(batch.size() == 100);
  CHECK(list.empty());
  list.recycle(std::move(batch));
  CHECK(list.empty());  // the entries are gone, not walked again by the next pass
  auto next = list.take();
  CHECK(next.empty());
  CHECK(next.capacity() >= 100);  // the larger buffer was kept for reuse
}

TEST_CASE("what is pushed while a batch is worked on is in the next batch, once") {
  work_list<int> list;
  int a = 0, b = 0, c = 0;
  list.push(&a);
  list.push(&b);
  auto batch = list.take();
  list.push(&c);  // listed during the pass
  list.recycle(std::move(batch));
  auto next = list.take();
  REQUIRE(next.size() == 1);
  CHECK(next[0] == &c);
}

TEST_CASE("many passes keep the list bounded by what each pass listed") {
  work_list<int> list;
  std::vector<int> items(50);
  for (int pass = 0; pass < 1000; ++pass) {
    for (int& i : items) list.push(&i);
    auto batch = list.take();
    CHECK(batch.size() == items.size());
    list.recycle(std::move(batch));
  }
  CHECK(list.size() == 0);
}

TEST_CASE("erase removes an object about to be freed") {
  work_list<int> list;
  int a = 0, b = 0;
  list.push(&a);
  list.push(&b);
  list.erase(&a);
  auto batch = list.take();
  REQUIRE(batch.size() == 1);
  CHECK(batch[0] == &b);
}

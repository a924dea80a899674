// output_budget: the worker-wide charge of queued output and who it drops when over.

#include "worker/output_budget.h"

#include <doctest/doctest.h>

#include <vector>

using namespace chatd;

namespace {

struct queue final : output_account {
  explicit queue(output_budget* b, std::vector<int>* log = nullptr, int id = 0)
      : output_account(b), log_(log), id_(id) {}
  void add(size_t n, uint64_t now) { charge_output(n, now); }
  void drain(size_t n) { release_output(n); }
  void drop_for_budget() override {
    dropped = true;
    if (log_ != nullptr) log_->push_back(id_);
  }
  bool dropped = false;
  std::vector<int>* log_;
  int id_;
};

}  // namespace

TEST_CASE("the budget's total is what the queues hold, released as they drain or go") {
  output_budget b(1000);
  {
    queue x(&b);
    queue y(&b);
    x.add(300, 1);
    y.add(200, 1);
    x.add(100, 2);
    CHECK(b.total() == 600);
    CHECK(b.accounts_holding() == 2);
    x.drain(350);
    CHECK(b.total() == 250);
    x.drain(1000);  // at most what is charged
    CHECK(b.total() == 200);
    CHECK(b.accounts_holding() == 1);
  }
  CHECK(b.total() == 0);
  CHECK(b.accounts_holding() == 0);
}

TEST_CASE("within the budget nothing is dropped") {
  output_budget b(1000);
  queue x(&b);
  x.add(1000, 1);
  CHECK_FALSE(b.over());
  CHECK(b.enforce().clients == 0);
  CHECK_FALSE(x.dropped);
}

TEST_CASE("over the budget the largest queues go first until the total is within it") {
  output_budget b(1000);
  std::vector<int> order;
  queue small(&b, &order, 1);
  queue big(&b, &order, 2);
  queue bigger(&b, &order, 3);
  queue middle(&b, &order, 4);
  small.add(100, 1);
  big.add(500, 1);
  bigger.add(600, 1);
  middle.add(300, 1);
  CHECK(b.total() == 1500);
  output_budget::dropped d = b.enforce();
  CHECK(d.clients == 1);
  CHECK(d.bytes == 600);
  CHECK(order == std::vector<int>{3});
  CHECK(b.total() == 900);
  bigger.add(5000, 2);  // a dropped client is not charged again
  CHECK(b.total() == 900);
}

TEST_CASE("among equal queues the one whose unsent data is oldest goes first") {
  output_budget b(1000);
  std::vector<int> order;
  queue newer(&b, &order, 1);
  queue older(&b, &order, 2);
  newer.add(600, 20);
  older.add(600, 10);
  b.enforce();
  CHECK(order == std::vector<int>{2});
  CHECK_FALSE(newer.dropped);
}

TEST_CASE("a budget of 0 only counts") {
  output_budget b(0);
  queue x(&b);
  x.add(1u << 30, 1);
  CHECK_FALSE(b.over());
  CHECK(b.enforce().clients == 0);
  x.drain(1u << 30);
}

TEST_CASE("a queue outside any budget counts nothing") {
  queue x(nullptr);
  x.add(100, 1);
  CHECK(x.charged() == 0);
}

// See output_budget.h.

#include "worker/output_budget.h"

#include "common/assert.h"

#include <algorithm>
#include <vector>

namespace chatd {

output_account::output_account(output_budget* budget) : budget_(budget) {}

output_account::~output_account() { release_all_output(); }

void output_account::charge_output(size_t bytes, uint64_t now_ms) {
  if (budget_ == nullptr || dropped_ || bytes == 0) return;
  if (charged_ == 0) {
    since_ms_ = now_ms;
    budget_->listed(*this);
  }
  charged_ += bytes;
  budget_->total_ += bytes;
}

void output_account::release_output(size_t bytes) {
  if (budget_ == nullptr || charged_ == 0) return;
  bytes = std::min(bytes, charged_);
  charged_ -= bytes;
  budget_->total_ -= bytes;
  if (charged_ == 0) budget_->unlisted(*this);
}

output_budget::~output_budget() {
  CHATD_ASSERT(head_ == nullptr, "an output budget freed while queues still hold bytes");
}

void output_budget::listed(output_account& a) {
  a.prev_ = nullptr;
  a.next_ = head_;
  if (head_ != nullptr) head_->prev_ = &a;
  head_ = &a;
  ++holding_;
}

void output_budget::unlisted(output_account& a) {
  if (a.prev_ != nullptr) a.prev_->next_ = a.next_;
  if (a.next_ != nullptr) a.next_->prev_ = a.prev_;
  if (head_ == &a) head_ = a.next_;
  a.prev_ = a.next_ = nullptr;
  --holding_;
}

output_budget::dropped output_budget::enforce() {
  dropped out;
  if (!over()) return out;
  std::vector<output_account*> worst;
  worst.reserve(holding_);
  for (output_account* a = head_; a != nullptr; a = a->next_) worst.push_back(a);
  std::sort(worst.begin(), worst.end(), [](const output_account* x, const output_account* y) {
    if (x->charged_ != y->charged_) return x->charged_ > y->charged_;
    return x->since_ms_ < y->since_ms_;
  });
  for (output_account* a : worst) {
    if (!over()) break;
    out.bytes += a->charged_;
    ++out.clients;
    a->release_all_output();
    a->dropped_ = true;
    a->drop_for_budget();
  }
  return out;
}

}  // namespace chatd

// See poll_transport.h.

#include "worker/poll_transport.h"

#include "common/assert.h"
#include "common/engineio.h"
#include "common/log.h"
#include "worker/poll_payload.h"
#include "worker/session.h"

namespace chatd {

namespace {

std::string noop_payload() { return std::string(1, static_cast<char>(eio::packet_type::noop)); }

}  // namespace

poll_transport::poll_transport(session& owner, size_t max_pending, output_budget* budget)
    : output_account(budget), owner_(owner), max_pending_(max_pending) {}

poll_transport::~poll_transport() {
  CHATD_ASSERT(held_ == nullptr, "a polling transport freed while a connection holds its GET");
}

bool poll_transport::send(const shared_bytes& frame) {
  if (refusing_) return false;
  const size_t n = frame->size();
  if (pending_bytes_ + n > max_pending_ && pending_bytes_ > 0) {
    log::debug("dropping a polling client: {} bytes pending exceed max_backpressure {}",
               pending_bytes_ + n, max_pending_);
    refusing_ = true;
    owner_.transport_overflow(*this);
    return false;
  }
  pending_.push_back(frame);
  pending_bytes_ += n;
  charge_output(n + k_entry_bytes, owner_.now());
  if (held_ != nullptr) held_->wake();
  return true;
}

void poll_transport::drop_for_budget() {
  owner_.output_budget_exceeded(*this);
  refusing_ = true;
}

void poll_transport::close(uint16_t, std::string_view) {
  refusing_ = true;
  if (held_ == nullptr) return;
  std::string payload;
  append_poll_payload(payload, pending_);
  if (!payload.empty()) payload.push_back(eio::record_separator);
  payload.push_back(static_cast<char>(eio::packet_type::close));
  pending_.clear();
  pending_bytes_ = 0;
  release_all_output();
  held_get* g = held_;
  held_ = nullptr;
  g->answer_poll(payload);
}

bool poll_transport::hold(held_get& g) {
  if (held_ != nullptr && held_ != &g) return false;
  held_ = &g;
  if (ready()) g.wake();
  return true;
}

std::string poll_transport::take_payload() {
  held_ = nullptr;
  if (pending_.empty()) return noop_payload();
  std::string out;
  out.reserve(pending_bytes_);
  append_poll_payload(out, pending_);
  pending_.clear();
  pending_bytes_ = 0;
  release_all_output();
  // A burst made the list long; an idle session should not keep its capacity.
  if (pending_.capacity() > 16) pending_.shrink_to_fit();
  return out;
}

void poll_transport::get_gone(held_get& g) {
  if (held_ != &g) return;
  held_ = nullptr;
  owner_.transport_gone(*this);
}

void poll_transport::answer_noop() {
  if (held_ == nullptr) return;
  held_get* g = held_;
  held_ = nullptr;
  g->answer_poll(noop_payload());
}

void poll_transport::answer_at_once(bool on) {
  answer_at_once_ = on;
  if (on && held_ != nullptr) held_->wake();
}

std::vector<shared_bytes> poll_transport::take_pending() {
  std::vector<shared_bytes> out;
  out.swap(pending_);
  pending_bytes_ = 0;
  release_all_output();
  return out;
}

}  // namespace chatd

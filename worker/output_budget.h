#pragma once
// limits.max_output_memory: one budget per worker for the output queued to its clients and not
// yet written (WebSocket connections' queues, polling transports' pending frames). Each queue is
// an `output_account` charged with what it holds; when the worker's total is over the budget,
// enforce() drops the accounts holding the most (the worst offenders, the one whose unsent data
// is oldest first among equals) until the total is back within it.
//
// How a shared frame counts: once per reference, at its full size (plus the queue entry holding
// it). A broadcast framed once and queued to N clients is charged N times, so the total is an
// upper bound of the memory the queues really pin: what the worker would free if every one of
// them went. It is exact when the queues hold different frames (slow consumers alone in their
// rooms, or a slow consumer behind readers, which already let the frames go) and overstates only
// while several non-readers share frames; then the budget trips early, on the safe side.
//
// Re-entrancy: enforce() drops through each account's drop_for_budget(), which may only mark
// its client for closing (the close-soon sweep, a session's timer); it is called from the
// server's prepare callback, never inside a room walk.

#include <cstddef>
#include <cstdint>

namespace chatd {

class output_budget;

class output_account {
 public:
  output_account(const output_account&) = delete;
  output_account& operator=(const output_account&) = delete;

  // Bytes charged now (queued payload plus entries).
  size_t charged() const { return charged_; }
  // Loop time (ms) when the oldest unsent byte was queued: the queue was last empty then.
  uint64_t queued_since() const { return since_ms_; }

 protected:
  // `budget` null: nothing is counted (a queue outside a server, in a unit test).
  explicit output_account(output_budget* budget);
  ~output_account();

  // Each queued frame is charged its size plus this: the entry (a shared reference and an
  // offset) that holds it in the queue.
  static constexpr size_t k_entry_bytes = 24;

  void charge_output(size_t bytes, uint64_t now_ms);
  // Releases at most what is charged.
  void release_output(size_t bytes);
  void release_all_output() { release_output(charged_); }
  // Dropped by the budget: charges from now on are ignored (the client is going).
  bool dropped_by_budget() const { return dropped_; }

 private:
  friend class output_budget;
  // The budget drops this client: mark it for closing, nothing more (see the file comment).
  virtual void drop_for_budget() = 0;

  output_budget* budget_;
  output_account* prev_ = nullptr;  // the budget's list of accounts holding bytes
  output_account* next_ = nullptr;
  size_t charged_ = 0;
  uint64_t since_ms_ = 0;
  bool dropped_ = false;
};

class output_budget {
 public:
  // `limit` in bytes; 0: no limit (only counting).
  explicit output_budget(uint64_t limit) : limit_(limit) {}
  ~output_budget();
  output_budget(const output_budget&) = delete;
  output_budget& operator=(const output_budget&) = delete;

  uint64_t total() const { return total_; }
  uint64_t limit() const { return limit_; }
  bool over() const { return limit_ != 0 && total_ > limit_; }
  size_t accounts_holding() const { return holding_; }

  struct dropped {
    size_t clients = 0;
    uint64_t bytes = 0;  // what they held
  };
  // Drops the accounts holding the most bytes (older queues first among equals) until the total
  // is within the limit; their charges are released at once (their memory goes when the sweep
  // frees them). Runs in O(n log n) over the accounts holding bytes, and only when over().
  dropped enforce();

 private:
  friend class output_account;
  void listed(output_account& a);
  void unlisted(output_account& a);

  uint64_t limit_;
  uint64_t total_ = 0;
  size_t holding_ = 0;
  output_account* head_ = nullptr;
};

}  // namespace chatd

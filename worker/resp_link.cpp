// One RESP2 connection on libuv with hiredis' reader and formatter (see resp_link.h).
//
// One connection attempt owns one `attempt`: the TCP handle, the connect-timeout timer, the
// write-scheduling prepare handle, the resolver request, the reader, the buffers and the pending
// handlers. The link and the attempt point at each other until one lets go ("detach"); the
// attempt is freed once its last handle has closed and no resolver request is outstanding, so a
// libuv callback arriving after the link let go (a cancelled write, say) finds it intact.

#include "worker/resp_link.h"

#include "common/log.h"
#include "worker/net_address.h"
#include "worker/resp_reader.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netdb.h>
#include <netinet/in.h>
#include <strings.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <deque>
#include <utility>
#include <vector>

namespace chatd {
namespace {

// Reads go into one buffer per connection: libuv reads until the socket is empty (bounded by
// its own rounds), and the reader copies what it is fed.
constexpr size_t k_read_buffer_bytes = 64u << 10;
// Seconds of idle before TCP keep-alive probes: notices a peer that vanished without a FIN.
constexpr unsigned k_keepalive_s = 60;
// Arguments formatted without a heap array (SPUBLISH has 3, XADD a handful).
constexpr size_t k_inline_args = 16;

enum class cmd_kind : uint8_t { plain, subscribe, unsubscribe };

bool equals_nocase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

cmd_kind kind_of(std::string_view name) {
  if (equals_nocase(name, "SSUBSCRIBE") || equals_nocase(name, "SUBSCRIBE") ||
      equals_nocase(name, "PSUBSCRIBE")) {
    return cmd_kind::subscribe;
  }
  if (equals_nocase(name, "SUNSUBSCRIBE") || equals_nocase(name, "UNSUBSCRIBE") ||
      equals_nocase(name, "PUNSUBSCRIBE")) {
    return cmd_kind::unsubscribe;
  }
  return cmd_kind::plain;
}

std::string_view str_of(const redisReply* r) {
  return r != nullptr && r->type == REDIS_REPLY_STRING ? std::string_view(r->str, r->len)
                                                       : std::string_view();
}

}  // namespace

struct resp_link::attempt {
  struct pending_cmd {
    reply_handler done;
    cmd_kind kind = cmd_kind::plain;
    std::string channel;  // subscribe / unsubscribe: the one channel
  };

  resp_link* link = nullptr;  // null once the link let go
  uv_tcp_t tcp{};
  uv_timer_t timer{};      // connect timeout; also reports failures found synchronously
  uv_prepare_t prepare{};  // writes what the iteration queued, before the loop sleeps
  uv_connect_t connect_req{};
  uv_write_t write_req{};
  uv_getaddrinfo_t resolver{};
  redisReader* reader = nullptr;
  reply_budget budget;  // what the reply being read may make the reader allocate
  std::string out;      // formatted, not yet handed to uv_write
  std::string writing;  // handed to uv_write, not yet written
  std::deque<pending_cmd> pending;
  std::string pending_error;
  int open_handles = 0;
  bool tcp_open = false;
  bool connected = false;
  bool resolving = false;
  bool closing = false;
  bool write_scheduled = false;
  bool write_in_flight = false;
  bool sub_mode = false;  // a subscribe command was sent: pushes may arrive
  std::array<char, k_read_buffer_bytes> buf{};
};

struct resp_link_access {
  using attempt = resp_link::attempt;
  using pending_list = std::deque<attempt::pending_cmd>;

  // ------------------------------------------------------------------ ending an attempt

  static resp_link* detach(attempt* a) {
    resp_link* l = a->link;
    if (l != nullptr) {
      l->state_ = resp_link::state::idle;
      l->a_ = nullptr;
    }
    a->link = nullptr;
    return l;
  }

  static void maybe_delete(attempt* a) {
    if (a->closing && a->open_handles == 0 && !a->resolving) {
      if (a->reader != nullptr) {
        redisReaderFree(a->reader);
      }
      delete a;
    }
  }

  static void on_closed(uv_handle_t* h) noexcept {
    auto* a = static_cast<attempt*>(h->data);
    --a->open_handles;
    maybe_delete(a);
  }

  static void release(attempt* a) {
    if (a->closing) {
      return;
    }
    a->closing = true;
    if (a->resolving) {
      uv_cancel(reinterpret_cast<uv_req_t*>(&a->resolver));
    }
    uv_close(reinterpret_cast<uv_handle_t*>(&a->timer), on_closed);
    uv_close(reinterpret_cast<uv_handle_t*>(&a->prepare), on_closed);
    if (a->tcp_open) {
      // Cancels the connect and write requests: their callbacks run first, a still alive.
      uv_close(reinterpret_cast<uv_handle_t*>(&a->tcp), on_closed);
    }
  }

  static void answer_all_null(pending_list handlers) {
    for (auto& p : handlers) {
      if (p.done) {
        p.done(nullptr);
      }
    }
  }

  // The link goes idle, hears `why` once (on_down), then every pending handler gets nullptr.
  static void fail(attempt* a, const std::string& why) {
    pending_list handlers = std::move(a->pending);
    a->pending.clear();
    resp_link* l = detach(a);
    release(a);
    if (l != nullptr) {
      auto cb = l->cb_.on_down;  // a copy: the callback may destroy the link
      const std::string text = fmt::format("{} {}: {}", l->name_, l->where(), why);
      if (cb) {
        cb(text);
      }
    }
    answer_all_null(std::move(handlers));
  }

  static void fail_soon(attempt* a, std::string why) {
    a->pending_error = std::move(why);
    uv_timer_start(&a->timer, on_timer, 0, 0);
  }

  static void on_timer(uv_timer_t* t) noexcept {
    auto* a = static_cast<attempt*>(t->data);
    if (a->link == nullptr) {
      return;
    }
    fail(a, a->pending_error.empty()
                ? fmt::format("connect timed out after {} ms", a->link->connect_timeout_ms_)
                : a->pending_error);
  }

  // ------------------------------------------------------------------ writing

  static void enqueue(attempt* a, std::span<const std::string_view> argv,
                      resp_link::reply_handler done, cmd_kind kind) {
    std::array<const char*, k_inline_args> inline_ptrs{};
    std::array<size_t, k_inline_args> inline_lens{};
    std::vector<const char*> heap_ptrs;
    std::vector<size_t> heap_lens;
    const char** ptrs = inline_ptrs.data();
    size_t* lens = inline_lens.data();
    if (argv.size() > k_inline_args) {
      heap_ptrs.resize(argv.size());
      heap_lens.resize(argv.size());
      ptrs = heap_ptrs.data();
      lens = heap_lens.data();
    }
    for (size_t i = 0; i < argv.size(); ++i) {
      ptrs[i] = argv[i].data();
      lens[i] = argv[i].size();
    }
    char* cmd = nullptr;
    const int len = redisFormatCommandArgv(&cmd, static_cast<int>(argv.size()), ptrs, lens);
    if (len < 0 || cmd == nullptr) {
      return;  // out of memory: the command is lost; its handler never runs
    }
    a->out.append(cmd, static_cast<size_t>(len));
    redisFreeCommand(cmd);
    attempt::pending_cmd p;
    p.done = std::move(done);
    p.kind = kind;
    if (kind != cmd_kind::plain) {
      p.channel = std::string(argv[1]);
      a->sub_mode = true;
    }
    a->pending.push_back(std::move(p));
    schedule_write(a);
  }

  static void schedule_write(attempt* a) {
    if (a->write_scheduled || a->closing) {
      return;
    }
    a->write_scheduled = true;
    uv_prepare_start(&a->prepare, on_prepare);
  }

  static void on_prepare(uv_prepare_t* h) noexcept {
    auto* a = static_cast<attempt*>(h->data);
    uv_prepare_stop(h);
    a->write_scheduled = false;
    if (!start_write(a) && a->link != nullptr) {
      fail(a, a->pending_error);
    }
  }

  // Hands `out` to uv_write unless a write is in flight; false (reason in pending_error) when
  // libuv refused it.
  static bool start_write(attempt* a) {
    if (a->closing || !a->connected || a->write_in_flight || a->out.empty()) {
      return true;
    }
    std::swap(a->writing, a->out);
    a->out.clear();
    uv_buf_t b = uv_buf_init(a->writing.data(), static_cast<unsigned>(a->writing.size()));
    const int rc = uv_write(&a->write_req, reinterpret_cast<uv_stream_t*>(&a->tcp), &b, 1, on_written);
    if (rc < 0) {
      a->pending_error = fmt::format("write: {}", uv_strerror(rc));
      return false;
    }
    a->write_in_flight = true;
    return true;
  }

  static void on_written(uv_write_t* req, int status) noexcept {
    auto* a = static_cast<attempt*>(req->data);
    a->write_in_flight = false;
    if (a->link == nullptr || a->closing) {
      return;
    }
    if (status < 0) {
      fail(a, fmt::format("write: {}", uv_strerror(status)));
      return;
    }
    a->writing.clear();
    if (!a->out.empty() && !start_write(a)) {
      fail(a, a->pending_error);
    }
  }

  // ------------------------------------------------------------------ reading

  static void on_alloc(uv_handle_t* h, size_t, uv_buf_t* b) noexcept {
    auto* a = static_cast<attempt*>(h->data);
    *b = uv_buf_init(a->buf.data(), static_cast<unsigned>(a->buf.size()));
  }

  static void on_read(uv_stream_t* s, ssize_t nread, const uv_buf_t*) noexcept {
    auto* a = static_cast<attempt*>(s->data);
    if (a->link == nullptr || nread == 0) {
      return;
    }
    if (nread < 0) {
      fail(a, nread == UV_EOF ? std::string("connection closed by the server")
                              : fmt::format("read: {}", uv_strerror(static_cast<int>(nread))));
      return;
    }
    if (redisReaderFeed(a->reader, a->buf.data(), static_cast<size_t>(nread)) != REDIS_OK) {
      fail(a, fmt::format("reader: {}", a->reader->errstr));
      return;
    }
    if (a->reader->len - a->reader->pos > resp_link::k_max_input_bytes) {
      fail(a, fmt::format("a reply larger than {} bytes", resp_link::k_max_input_bytes));
      return;
    }
    while (a->link != nullptr) {
      void* r = nullptr;
      if (redisReaderGetReply(a->reader, &r) != REDIS_OK) {
        fail(a, a->budget.elements > k_max_reply_elements
                    ? fmt::format("a reply declaring more than {} elements", k_max_reply_elements)
                    : fmt::format("protocol error: {}", a->reader->errstr));
        return;
      }
      if (r == nullptr) {
        return;
      }
      a->budget.elements = 0;
      auto* reply = static_cast<redisReply*>(r);
      dispatch(a, reply);  // may end the attempt: the loop checks a->link
      freeReplyObject(reply);
    }
  }

  static void answer_front(attempt* a, const redisReply* reply) {
    attempt::pending_cmd p = std::move(a->pending.front());
    a->pending.pop_front();
    if (p.done) {
      p.done(reply);
    }
  }

  static void deliver_push(attempt* a, const resp_link::push& p) {
    auto cb = a->link->cb_.on_push;  // a copy: the callback may destroy the link
    if (cb) {
      cb(p);
    }
  }

  // One whole reply: a push (in subscribe mode) or the answer to the oldest pending command.
  static void dispatch(attempt* a, const redisReply* reply) {
    if (a->sub_mode && reply->type == REDIS_REPLY_ARRAY && reply->elements >= 2 &&
        reply->element[0]->type == REDIS_REPLY_STRING) {
      const std::string_view kind = str_of(reply->element[0]);
      if ((kind == "smessage" || kind == "message") && reply->elements >= 3) {
        deliver_push(a, {kind, str_of(reply->element[1]), str_of(reply->element[2])});
        return;
      }
      if (kind == "pmessage" && reply->elements >= 4) {
        deliver_push(a, {kind, str_of(reply->element[2]), str_of(reply->element[3])});
        return;
      }
      const std::string_view channel = str_of(reply->element[1]);
      const bool confirms_subscribe =
          kind == "ssubscribe" || kind == "subscribe" || kind == "psubscribe";
      const bool confirms_unsubscribe =
          kind == "sunsubscribe" || kind == "unsubscribe" || kind == "punsubscribe";
      if (confirms_subscribe || confirms_unsubscribe) {
        const bool answers_front =
            !a->pending.empty() &&
            (confirms_subscribe ? a->pending.front().kind == cmd_kind::subscribe
                                : a->pending.front().kind == cmd_kind::unsubscribe &&
                                      a->pending.front().channel == channel);
        if (answers_front) {
          answer_front(a, reply);
        } else {
          deliver_push(a, {kind, channel, {}});
        }
        return;
      }
    }
    if (a->pending.empty()) {
      fail(a, "a reply to no command");
      return;
    }
    answer_front(a, reply);
  }

  // ------------------------------------------------------------------ connecting

  static void on_handshake_reply(attempt* a, const redisReply* r, bool is_ping) {
    if (r == nullptr || a->link == nullptr) {
      return;
    }
    if (r->type == REDIS_REPLY_ERROR) {
      fail(a, fmt::format("{} refused: {}", is_ping ? "PING" : "AUTH",
                          std::string_view(r->str, r->len)));
      return;
    }
    if (!is_ping) {
      return;
    }
    uv_timer_stop(&a->timer);
    resp_link* l = a->link;
    l->state_ = resp_link::state::ready;
    auto cb = l->cb_.on_ready;
    if (cb) {
      cb();
    }
  }

  static void on_connected(uv_connect_t* req, int status) noexcept {
    auto* a = static_cast<attempt*>(req->data);
    if (a->link == nullptr || a->closing) {
      return;
    }
    if (status < 0) {
      fail(a, fmt::format("connect: {}", uv_strerror(status)));
      return;
    }
    a->connected = true;
    uv_tcp_nodelay(&a->tcp, 1);
    uv_tcp_keepalive(&a->tcp, 1, k_keepalive_s);
    const int rc = uv_read_start(reinterpret_cast<uv_stream_t*>(&a->tcp), on_alloc, on_read);
    if (rc < 0) {
      fail(a, fmt::format("uv_read_start: {}", uv_strerror(rc)));
      return;
    }
    // AUTH first in the stream, then the PING whose answer makes the link ready.
    const std::string& password = a->link->endpoint_.password;
    if (!password.empty()) {
      const std::string_view argv[] = {"AUTH", password};
      enqueue(a, argv, [a](const redisReply* r) { on_handshake_reply(a, r, false); },
              cmd_kind::plain);
    }
    const std::string_view ping[] = {"PING"};
    enqueue(a, ping, [a](const redisReply* r) { on_handshake_reply(a, r, true); }, cmd_kind::plain);
  }

  static void start_tcp(attempt* a, const sockaddr* addr) {
    resp_link* l = a->link;
    int rc = uv_tcp_init(l->loop_, &a->tcp);
    if (rc < 0) {
      fail_soon(a, fmt::format("uv_tcp_init: {}", uv_strerror(rc)));
      return;
    }
    a->tcp.data = a;
    a->tcp_open = true;
    ++a->open_handles;
    a->connect_req.data = a;
    a->write_req.data = a;
    rc = uv_tcp_connect(&a->connect_req, &a->tcp, addr, on_connected);
    if (rc < 0) {
      fail_soon(a, fmt::format("connect: {}", uv_strerror(rc)));
    }
  }

  static void start_literal(attempt* a) {
    const redis_endpoint& e = a->link->endpoint_;
    sockaddr_storage ss{};
    if (uv_ip4_addr(e.host.c_str(), e.port, reinterpret_cast<sockaddr_in*>(&ss)) != 0 &&
        uv_ip6_addr(e.host.c_str(), e.port, reinterpret_cast<sockaddr_in6*>(&ss)) != 0) {
      fail_soon(a, fmt::format("bad address {}", e.host));
      return;
    }
    start_tcp(a, reinterpret_cast<const sockaddr*>(&ss));
  }

  static void on_resolved(uv_getaddrinfo_t* req, int status, addrinfo* res) noexcept {
    auto* a = static_cast<attempt*>(req->data);
    a->resolving = false;
    if (a->closing || a->link == nullptr) {
      uv_freeaddrinfo(res);
      maybe_delete(a);
      return;
    }
    if (status < 0 || res == nullptr) {
      uv_freeaddrinfo(res);
      fail(a, fmt::format("cannot resolve {}: {}", a->link->endpoint_.host,
                          status < 0 ? uv_strerror(status) : "no address"));
      return;
    }
    const addrinfo* pick = prefer_ipv4(res);
    sockaddr_storage ss{};
    std::memcpy(&ss, pick->ai_addr, std::min<size_t>(pick->ai_addrlen, sizeof ss));
    uv_freeaddrinfo(res);
    reinterpret_cast<sockaddr_in*>(&ss)->sin_port = htons(a->link->endpoint_.port);  // same offset in v6
    start_tcp(a, reinterpret_cast<const sockaddr*>(&ss));
  }

  static void connect(resp_link& l) {
    auto* a = new attempt;
    a->link = &l;
    a->reader = create_bounded_reader(&a->budget);
    uv_timer_init(l.loop_, &a->timer);
    uv_prepare_init(l.loop_, &a->prepare);
    a->timer.data = a;
    a->prepare.data = a;
    a->open_handles = 2;
    l.a_ = a;
    l.state_ = resp_link::state::connecting;
    if (a->reader == nullptr) {
      fail_soon(a, "out of memory");
      return;
    }
    if (l.connect_timeout_ms_ > 0) {
      uv_timer_start(&a->timer, on_timer, l.connect_timeout_ms_, 0);
    }
    if (!l.endpoint_.unix_path.empty()) {
      fail_soon(a, "a Unix socket endpoint is not supported here");
      return;
    }
    if (is_ip_literal(l.endpoint_.host)) {
      start_literal(a);
      return;
    }
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    a->resolver.data = a;
    const int rc =
        uv_getaddrinfo(l.loop_, &a->resolver, on_resolved, l.endpoint_.host.c_str(), nullptr, &hints);
    if (rc < 0) {
      fail_soon(a, fmt::format("cannot resolve {}: {}", l.endpoint_.host, uv_strerror(rc)));
      return;
    }
    a->resolving = true;
  }

  static void disconnect(resp_link& l) {
    attempt* a = l.a_;
    if (a == nullptr) {
      l.state_ = resp_link::state::idle;
      return;
    }
    pending_list handlers = std::move(a->pending);
    a->pending.clear();
    detach(a);
    release(a);
    answer_all_null(std::move(handlers));
  }
};

resp_link::resp_link(uv_loop_t* loop, redis_endpoint endpoint, uint32_t connect_timeout_ms,
                     std::string name, callbacks cb)
    : loop_(loop),
      endpoint_(std::move(endpoint)),
      connect_timeout_ms_(connect_timeout_ms),
      name_(std::move(name)),
      cb_(std::move(cb)) {}

resp_link::~resp_link() { resp_link_access::disconnect(*this); }

void resp_link::connect() {
  if (state_ == state::idle) {
    resp_link_access::connect(*this);
  }
}

void resp_link::disconnect() { resp_link_access::disconnect(*this); }

bool resp_link::command(std::span<const std::string_view> argv, reply_handler done) {
  if (state_ != state::ready || a_ == nullptr || argv.empty()) {
    return false;
  }
  const cmd_kind kind = kind_of(argv[0]);
  if (kind != cmd_kind::plain && argv.size() != 2) {
    return false;  // one channel per (un)subscribe: one confirmation per handler
  }
  if (a_->pending.size() >= k_max_pending || unsent_bytes() > k_max_output_bytes) {
    return false;
  }
  resp_link_access::enqueue(a_, argv, std::move(done), kind);
  return true;
}

void resp_link::flush() {
  if (a_ != nullptr && !a_->closing) {
    if (!resp_link_access::start_write(a_)) {
      resp_link_access::fail_soon(a_, a_->pending_error);  // on_down from the loop, not from here
    }
  }
}

size_t resp_link::unsent_bytes() const {
  return a_ == nullptr ? 0 : a_->out.size() + a_->writing.size();
}

size_t resp_link::pending() const { return a_ == nullptr ? 0 : a_->pending.size(); }

std::string resp_link::where() const {
  return endpoint_.host.find(':') != std::string::npos
             ? fmt::format("[{}]:{}", endpoint_.host, endpoint_.port)
             : fmt::format("{}:{}", endpoint_.host, endpoint_.port);
}

}  // namespace chatd

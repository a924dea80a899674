// hiredis' reply reader, bounded (see resp_reader.h).

#include "worker/resp_reader.h"

namespace chatd {
namespace {

// hiredis' own reply object functions, taken from a reader it made (they are static in
// hiredis.c), with createArray wrapped.
redisReplyObjectFunctions make_bounded_functions() {
  redisReplyObjectFunctions fns{};
  if (redisReader* r = redisReaderCreate()) {
    fns = *r->fn;
    redisReaderFree(r);
  }
  return fns;
}

const redisReplyObjectFunctions& default_functions() {
  static const redisReplyObjectFunctions fns = make_bounded_functions();
  return fns;
}

void* create_array(const redisReadTask* task, int elements) {
  auto* budget = static_cast<reply_budget*>(task->privdata);
  if (task->parent == nullptr) {
    budget->elements = 0;  // a new reply begins: readers that cannot reset it (async) need this
  }
  if (elements > 0) {
    budget->elements += static_cast<size_t>(elements);
    if (budget->elements > k_max_reply_elements) {
      return nullptr;  // the reader reports "Out of memory": a protocol error to us
    }
  }
  return default_functions().createArray(task, elements);
}

redisReplyObjectFunctions bounded_functions() {
  redisReplyObjectFunctions fns = default_functions();
  fns.createArray = create_array;
  return fns;
}

}  // namespace

redisReader* create_bounded_reader(reply_budget* budget) {
  static redisReplyObjectFunctions fns = bounded_functions();
  if (fns.createString == nullptr) {
    return nullptr;
  }
  redisReader* r = redisReaderCreateWithFunctions(&fns);
  if (r != nullptr) {
    r->privdata = budget;
  }
  return r;
}

}  // namespace chatd

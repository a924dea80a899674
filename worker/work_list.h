#pragma once
// A list of objects waiting for one pass of work (connections to flush, to close), built to be
// drained in batches while the pass itself may list more. The drained batch's buffer comes back
// empty and is kept, so a busy worker does not reallocate the list every loop iteration.

#include <algorithm>
#include <vector>

namespace chatd {

template <class T>
class work_list {
 public:
  void push(T* item) { items_.push_back(item); }
  bool empty() const { return items_.empty(); }
  size_t size() const { return items_.size(); }
  // Removes every occurrence (an object about to be freed must not stay listed). Linear: call it
  // only for objects known to be listed.
  void erase(T* item) { std::erase(items_, item); }

  // Everything listed so far; what is pushed while the batch is worked on lands in the list.
  std::vector<T*> take() {
    std::vector<T*> batch;
    batch.swap(items_);
    return batch;
  }
  // Hands a worked batch back. Its entries are dropped: keeping them would make every later pass
  // walk them again. Its buffer is kept when it is the larger one.
  void recycle(std::vector<T*>&& batch) {
    batch.clear();
    if (items_.empty() && batch.capacity() > items_.capacity()) items_.swap(batch);
  }

 private:
  std::vector<T*> items_;
};

}  // namespace chatd

// Fork: the locks are taken in a fixed order, thread-cache registry, class
// locks by index, then the heap. prefork initialises first so parent and child
// handlers always see the same lock set.
#include "slab/internal.h"

namespace heapmark::slab {

void Core::prefork() noexcept {
  ensure_init();
  g_threads.lock();
  for (auto& l : g_class_lock) pthread_mutex_lock(&l.mu);
  g_heap.lock();
}
void Core::postfork_parent() noexcept {
  g_heap.unlock();
  for (unsigned i = kClassLocks; i-- > 0;) pthread_mutex_unlock(&g_class_lock[i].mu);
  g_threads.unlock();
}
void Core::postfork_child() noexcept {
  g_heap.reinit_lock_after_fork();
  for (auto& l : g_class_lock) pthread_mutex_init(&l.mu, nullptr);
  g_threads.reinit_lock_after_fork();
}

}  // namespace heapmark::slab

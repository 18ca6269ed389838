// Every thread's cache of a Core, kept outside the heap it serves: a cache is
// taken when a thread first calls (a recycled one, or a fresh page from the
// OS contract, never malloc), linked into the list of live caches (what a
// census, stats or fork walk), and given back to a pool when the thread exits.
// T carries `T* next_all` and `T* prev_all`, which only the registry touches.
// Used by the slab's magazines and the buddy Core's thread caches.
#pragma once
#include <pthread.h>
#include <stddef.h>

#include "os/os.h"

namespace heapmark::shim {

template <class T>
class ThreadRegistry {
 public:
  // A cache set up by `init(T&)` under the registry's lock, before anyone walking
  // the list can see it; nullptr when no page could be had.
  template <class Init>
  T* take(Init&& init) noexcept {
    lock();
    T* t = pool_;
    if (t) pool_ = t->next_all;
    else t = static_cast<T*>(os::reserve_committed((sizeof(T) + os::page_size() - 1) & ~(os::page_size() - 1)));
    if (t) {
      init(*t);
      t->prev_all = nullptr;
      t->next_all = all_;
      if (all_) all_->prev_all = t;
      all_ = t;
    }
    unlock();
    return t;
  }
  // Unlinks a cache its thread has emptied and keeps it for the next thread.
  void give_back(T* t) noexcept {
    lock();
    if (t->prev_all) t->prev_all->next_all = t->next_all;
    else all_ = t->next_all;
    if (t->next_all) t->next_all->prev_all = t->prev_all;
    t->next_all = pool_;
    pool_ = t;
    unlock();
  }
  // The live caches, first to last through next_all: walk them under lock().
  T* first() const noexcept { return all_; }
  void lock() noexcept { pthread_mutex_lock(&mu_); }
  void unlock() noexcept { pthread_mutex_unlock(&mu_); }
  // In a forked child: the lock was held across fork (prefork takes it).
  void reinit_lock_after_fork() noexcept { pthread_mutex_init(&mu_, nullptr); }
  // In a forked child, which has one thread: `survivor` (the forking thread's
  // cache, or nullptr) is the only live one; the other threads' caches are
  // gone with them, as their memory is in any allocator.
  void keep_only(T* survivor) noexcept {
    all_ = survivor;
    if (survivor) survivor->prev_all = survivor->next_all = nullptr;
  }

 private:
  pthread_mutex_t mu_ = PTHREAD_MUTEX_INITIALIZER;
  T* all_ = nullptr;
  T* pool_ = nullptr;
};

}  // namespace heapmark::shim

// The slab allocator's process-wide state (the page heap, the class caches, the
// thread-cache registry) and its one-time initialisation from the environment
// (settings: slab_core.h).
#include "shim/diag.h"
#include "shim/env.h"
#include "slab/internal.h"

namespace heapmark::slab {

namespace {
pthread_mutex_t g_init_mu = PTHREAD_MUTEX_INITIALIZER;
}  // namespace

BuddyHeap g_heap;
Cache g_cache[kClasses];
ClassLock g_class_lock[kClassLocks];
std::atomic<bool> g_ready{false};
pthread_key_t g_key;
size_t g_empty_reserve = 1;
constinit shim::ThreadRegistry<ThreadCache> g_threads;  // constant: malloc may come before any constructor
std::atomic<size_t> g_slab_bytes{0};
std::atomic<size_t> g_slabs_returned{0};
ThreadCache g_dead{};

__thread ThreadCache* t_cache __attribute__((tls_model("initial-exec"))) = nullptr;

void fail(const char* check) noexcept { shim::die("slab", check); }

void init_global() noexcept {
  pthread_mutex_lock(&g_init_mu);
  if (!g_ready.load(std::memory_order_relaxed)) {
    constexpr const char* kWho = "heapmark slab";
    buddy::Decommit policy = buddy::Decommit::kDecay;
    size_t threshold = size_t(8) << 20;
    uint64_t decay_ms = buddy::kDefaultDecayMs;
    shim::env_choice(kWho, "HEAPMARK_SLAB_DECOMMIT", buddy::kDecommitNames, &policy);
    shim::env_size(kWho, "HEAPMARK_SLAB_DECOMMIT_THRESHOLD", &threshold);
    shim::env_ms(kWho, "HEAPMARK_SLAB_DECAY_MS", &decay_ms);
    shim::env_count(kWho, "HEAPMARK_SLAB_EMPTY_RESERVE", &g_empty_reserve);
    g_heap.init("slab", buddy::kPageOrder, policy, threshold, decay_ms);
    pthread_key_create(&g_key, thread_exit);
    g_ready.store(true, std::memory_order_release);
  }
  pthread_mutex_unlock(&g_init_mu);
}

buddy::BuddyHeap& page_heap() noexcept {
  ensure_init();
  return g_heap;
}

}  // namespace heapmark::slab

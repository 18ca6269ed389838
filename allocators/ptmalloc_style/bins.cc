// Bins: arena initialisation, unlinking a free chunk from its bin, and sorting
// a chunk into its small or large bin (glibc's layout).
#include "ptmalloc_style/internal.h"

namespace heapmark::pt::detail {

void init_arena(Arena* av, size_t flag) {
  pthread_mutex_init(&av->mutex, nullptr);
  for (size_t i = 0; i < NBINS; ++i) {
    Chunk* b = bin_at(av, i);
    b->fd = b->bk = b;
    b->fd_nextsize = b->bk_nextsize = nullptr;
  }
  av->flag = flag;
}

void unlink_chunk(Arena* av, Chunk* p) {
  size_t size = chunksize(p);
  if (size != at(p, size)->prev_size) die("corrupted size vs. prev_size");
  Chunk* fd = p->fd;
  Chunk* bk = p->bk;
  if (fd->bk != p || bk->fd != p) die("corrupted double-linked list");
  fd->bk = bk;
  bk->fd = fd;
  if (!in_smallbin_range(size) && p->fd_nextsize != nullptr) {
    if (p->fd_nextsize->bk_nextsize != p || p->bk_nextsize->fd_nextsize != p)
      die("corrupted double-linked list (not small)");
    if (!is_bin(av, fd) && chunksize(fd) == size) {  // fd becomes its size group's head
      if (p->fd_nextsize == p) {
        fd->fd_nextsize = fd->bk_nextsize = fd;
      } else {
        fd->fd_nextsize = p->fd_nextsize;
        fd->bk_nextsize = p->bk_nextsize;
        p->fd_nextsize->bk_nextsize = fd;
        p->bk_nextsize->fd_nextsize = fd;
      }
    } else {
      p->fd_nextsize->bk_nextsize = p->bk_nextsize;
      p->bk_nextsize->fd_nextsize = p->fd_nextsize;
    }
  }
}

void place_in_bin(Arena* av, Chunk* victim, size_t size) {
  size_t idx = bin_index(size);
  Chunk* bin = bin_at(av, idx);
  Chunk *bck, *fwd;
  if (in_smallbin_range(size)) {
    bck = bin;
    fwd = bin->fd;
  } else if (bin->fd == bin) {
    victim->fd_nextsize = victim->bk_nextsize = victim;
    bck = fwd = bin;
  } else {
    Chunk* first = bin->fd;
    Chunk* last = bin->bk;
    if (size < chunksize(last)) {  // new smallest size group, at the end
      victim->fd_nextsize = first;
      victim->bk_nextsize = first->bk_nextsize;
      first->bk_nextsize->fd_nextsize = victim;
      first->bk_nextsize = victim;
      bck = last;
      fwd = bin;
    } else {
      fwd = first;
      while (size < chunksize(fwd)) fwd = fwd->fd_nextsize;
      if (size == chunksize(fwd)) {  // join the group behind its head
        victim->fd_nextsize = victim->bk_nextsize = nullptr;
        bck = fwd;
        fwd = fwd->fd;
      } else {
        victim->fd_nextsize = fwd;
        victim->bk_nextsize = fwd->bk_nextsize;
        if (fwd->bk_nextsize->fd_nextsize != fwd) die("malloc(): largebin double linked list corrupted (nextsize)");
        fwd->bk_nextsize->fd_nextsize = victim;
        fwd->bk_nextsize = victim;
        bck = fwd->bk;
      }
      if (bck->fd != fwd) die("malloc(): largebin double linked list corrupted (bk)");
    }
  }
  mark_bin(av, idx);
  victim->bk = bck;
  victim->fd = fwd;
  fwd->bk = victim;
  bck->fd = victim;
}

}  // namespace heapmark::pt::detail

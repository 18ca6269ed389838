// The attach fixture (attach_target.c) as a child of the test: started with
// pipes on its stdin and stdout, ready once it printed its own figures.
#pragma once
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <string>
#include <utility>

extern char** environ;

namespace heapmark::test {

// Spawns argv[0] with `envp`, its stdin and stdout on pipes (close-on-exec
// here, so no other child inherits them): `in` writes its stdin, `out` reads
// its stdout. Returns its pid, or -1.
inline pid_t spawn_piped(char* const argv[], char* const envp[], int& in, FILE*& out) {
  int to[2], from[2];
  if (pipe2(to, O_CLOEXEC) != 0 || pipe2(from, O_CLOEXEC) != 0) return -1;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, to[0], 0);
  posix_spawn_file_actions_adddup2(&fa, from[1], 1);
  pid_t pid = -1;
  if (posix_spawn(&pid, argv[0], &fa, nullptr, argv, envp) != 0) pid = -1;
  posix_spawn_file_actions_destroy(&fa);
  close(to[0]);
  close(from[1]);
  in = to[1];
  out = fdopen(from[0], "r");
  return pid;
}

// The fixture, running until its stdin closes; ready once it printed "ready LIVE INUSE".
struct Target {
  pid_t pid = -1;
  int in = -1;
  FILE* out = nullptr;
  uint64_t live = 0, in_use = 0;  // the fixture's own count, and glibc's mallinfo2
  Target(int threads, int thread_mib, int main_mib, bool hammer = false, const char* program = ATTACH_TARGET) {
    std::string a = std::to_string(threads), b = std::to_string(thread_mib), c = std::to_string(main_mib), d = "hammer";
    char* argv[] = {const_cast<char*>(program), a.data(), b.data(), c.data(), hammer ? d.data() : nullptr, nullptr};
    pid = spawn_piped(argv, environ, in, out);
  }
  bool ready() {
    char line[128] = "";
    unsigned long long l = 0, u = 0;
    if (!out || !fgets(line, sizeof line, out) || std::sscanf(line, "ready %llu %llu", &l, &u) != 2) return false;
    live = l;
    in_use = u;
    return true;
  }
  // Closes stdin and waits: the rest of its output, and its exit status (-1: killed).
  std::pair<std::string, int> finish() {
    close(in);
    in = -1;
    std::string rest;
    char buf[256];
    while (out && fgets(buf, sizeof buf, out)) rest += buf;
    int st = 0;
    waitpid(pid, &st, 0);
    pid = -1;
    return {rest, WIFEXITED(st) ? WEXITSTATUS(st) : -1};
  }
  ~Target() {
    if (in >= 0) close(in);
    if (out) fclose(out);
    if (pid > 0) waitpid(pid, nullptr, 0);
  }
};

// A process started under LD_PRELOAD=`library` (none for "").
struct Preloaded : Target {
  static const char* set(const char* library) {
    if (library[0]) setenv("LD_PRELOAD", library, 1);
    return library;
  }
  Preloaded(const char* library, int threads, int thread_mib, int main_mib)
      : Target((set(library), threads), thread_mib, main_mib) {
    unsetenv("LD_PRELOAD");
  }
};

}  // namespace heapmark::test

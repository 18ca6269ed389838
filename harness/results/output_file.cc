#include "harness/results/output_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include "common/input_error.h"

namespace fs = std::filesystem;

namespace heapmark::results {

void claim_output(const std::string& path, bool force, const std::string& option) {
  if (path.empty()) throw InputError(option + " '': give a file name");
  const fs::path parent = fs::absolute(path).parent_path();
  std::error_code ec;
  if (!fs::is_directory(parent, ec))
    throw InputError(option + " '" + path + "': the directory " + parent.string() + " does not exist");
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return;  // free
  if (S_ISDIR(st.st_mode)) throw InputError(option + " '" + path + "' is a directory: give a file name");
  if (!S_ISREG(st.st_mode))
    throw InputError(option + " '" + path + "' is not a regular file (a FIFO, socket or device): give a file name");
  if (!force) throw InputError(option + " '" + path + "' exists: give --force to replace it, or another name");
}

void write_atomically(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp." + std::to_string(getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw EnvironmentError("write", tmp, errno);
  size_t done = 0;
  int err = 0;
  while (done < text.size()) {
    const ssize_t w = ::write(fd, text.data() + done, text.size() - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      err = w < 0 ? errno : ENOSPC;
      break;
    }
    done += static_cast<size_t>(w);
  }
  if (!err && ::fsync(fd) != 0) err = errno;
  if (::close(fd) != 0 && !err) err = errno;
  if (!err && std::rename(tmp.c_str(), path.c_str()) != 0) err = errno;
  if (err) {
    ::unlink(tmp.c_str());
    throw EnvironmentError("write", path, err);
  }
}

}  // namespace heapmark::results

// Small whole-file reads for configuration and key files (common/read_file.h).

#include "common/read_file.h"

#include <fcntl.h>
#include <unistd.h>
#include <fmt/format.h>

#include <cerrno>
#include <cstring>

namespace chatd {

expected<std::string, std::string> read_small_file(const std::string& path, size_t max_size) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return unexpected{fmt::format("cannot open: {}", strerror(errno))};
  std::string text;
  char buf[16384];
  int err = 0;
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      err = errno;
      break;
    }
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
    if (text.size() > max_size) {
      ::close(fd);
      return unexpected{fmt::format("file is larger than {} bytes", max_size)};
    }
  }
  ::close(fd);
  if (err != 0) return unexpected{fmt::format("cannot read: {}", strerror(err))};
  return text;
}

}  // namespace chatd

#pragma once
// Reading a small file whole (a config file, a key file), refusing one larger than a cap so a
// wrong path (a device, a log) is not slurped. Errors are the reason, with errno's text.

#include "common/expected.h"

#include <cstddef>
#include <string>

namespace chatd {

// The file's bytes; else "cannot open: ...", "cannot read: ..." or "file is larger than ...".
expected<std::string, std::string> read_small_file(const std::string& path, size_t max_size);

}  // namespace chatd

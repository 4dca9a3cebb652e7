#pragma once
// Replacing a file so that a crash or a full disk never leaves a half-written one: the bytes go to
// `path.tmp`, are flushed and fsync'ed, then renamed over `path` (atomic on POSIX file systems).
#include <cstdint>
#include <string>
#include <vector>

namespace quill {

void write_file_atomically(const std::string& path, const std::vector<uint8_t>& bytes);

// The whole file; throws quill::Error naming it when it can't be read.
std::vector<uint8_t> read_file_bytes(const std::string& path, const std::string& what);

}  // namespace quill

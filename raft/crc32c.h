#pragma once
// CRC-32C (Castagnoli), the checksum every record RocksDbStorage writes
// carries, so that a garbled or truncated record is detected when read
// rather than trusted. Table-driven; fast enough for records of a few KB.

#include <cstdint>
#include <string_view>

namespace raft {

std::uint32_t crc32c(std::string_view data);

}  // namespace raft

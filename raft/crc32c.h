#pragma once
// CRC-32C (Castagnoli), the checksum every record RocksDbStorage and
// kv::Store write carries, so that a garbled or truncated record is
// detected when read rather than trusted. With the CPU's CRC32 instruction
// (SSE 4.2) when it has one -- every write and read of a record pays for
// it, so on the write path it showed in profiles -- else a table.

#include <cstdint>
#include <string_view>

namespace raft {

std::uint32_t crc32c(std::string_view data);

namespace detail {
// The table-driven version, always available (the fallback, and the
// reference the tests compare the instruction's results with).
std::uint32_t crc32c_table(std::string_view data);
}  // namespace detail

}  // namespace raft

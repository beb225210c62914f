#include "raft/storage_record.h"

#include "raft/crc32c.h"

namespace raft::storage_record {

std::string big_endian(std::uint64_t value, std::size_t bytes) {
  std::string encoded(bytes, '\0');
  for (std::size_t i = bytes; i-- > 0; value >>= 8) encoded[i] = static_cast<char>(value & 0xff);
  return encoded;
}

std::optional<std::uint64_t> from_big_endian(std::string_view data, std::size_t bytes) {
  if (data.size() != bytes) return std::nullopt;
  std::uint64_t value = 0;
  for (unsigned char byte : data) value = (value << 8) | byte;
  return value;
}

std::string seal(std::string_view payload) {
  const std::uint32_t crc = crc32c(payload);
  std::string record(4, '\0');
  for (std::size_t i = 0; i < 4; ++i) record[i] = static_cast<char>((crc >> (8 * i)) & 0xff);
  record.append(payload);
  return record;
}

std::optional<std::string_view> open(std::string_view record) {
  if (record.size() < 4) return std::nullopt;
  std::uint32_t stored = 0;
  for (std::size_t i = 0; i < 4; ++i)
    stored |= static_cast<std::uint32_t>(static_cast<unsigned char>(record[i])) << (8 * i);
  const std::string_view payload = record.substr(4);
  if (crc32c(payload) != stored) return std::nullopt;
  return payload;
}

}  // namespace raft::storage_record

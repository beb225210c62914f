#include "raft/crc32c.h"

#include <array>
#include <cstring>

namespace raft {

namespace {

constexpr std::array<std::uint32_t, 256> make_table() {
  std::array<std::uint32_t, 256> table{};
  for (std::uint32_t byte = 0; byte < 256; ++byte) {
    std::uint32_t crc = byte;
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ (0x82f63b78U & (0U - (crc & 1U)));
    table[byte] = crc;
  }
  return table;
}

constexpr std::array<std::uint32_t, 256> kTable = make_table();

#if defined(__x86_64__)
// Eight bytes per instruction, then the tail a byte at a time. The same
// polynomial as the table (the instruction implements CRC-32C).
__attribute__((target("sse4.2"))) std::uint32_t crc32c_instruction(std::string_view data) {
  std::uint64_t crc = 0xffffffffU;
  const char* at = data.data();
  std::size_t left = data.size();
  for (; left >= 8; left -= 8, at += 8) {
    std::uint64_t word;
    std::memcpy(&word, at, 8);
    crc = __builtin_ia32_crc32di(crc, word);
  }
  auto crc32 = static_cast<std::uint32_t>(crc);
  for (; left > 0; --left, ++at) crc32 = __builtin_ia32_crc32qi(crc32, static_cast<unsigned char>(*at));
  return crc32 ^ 0xffffffffU;
}

bool has_instruction() {
  static const bool has = [] {
    __builtin_cpu_init();  // may run before libgcc's own constructor does it
    return __builtin_cpu_supports("sse4.2") != 0;
  }();
  return has;
}
#endif

}  // namespace

namespace detail {

std::uint32_t crc32c_table(std::string_view data) {
  std::uint32_t crc = 0xffffffffU;
  for (unsigned char byte : data) crc = kTable[(crc ^ byte) & 0xffU] ^ (crc >> 8);
  return crc ^ 0xffffffffU;
}

}  // namespace detail

std::uint32_t crc32c(std::string_view data) {
#if defined(__x86_64__)
  if (has_instruction()) return crc32c_instruction(data);
#endif
  return detail::crc32c_table(data);
}

}  // namespace raft

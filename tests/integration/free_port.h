#pragma once
// Ports for processes a test starts and must name in advance (peer lists,
// a DNS server's port). Drawn at random below the kernel's ephemeral range
// (32768-60999 on Linux), so that no concurrent test's port-0 listener or
// outgoing connection can take one between the draw and its use; a port
// another test holds right now fails the bind check and is drawn again.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <random>
#include <stdexcept>

namespace raft::testing {

inline bool can_bind(int type, int port) {
  const int fd = socket(AF_INET, type, 0);
  if (fd < 0) return false;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  const bool bound = bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  close(fd);
  return bound;
}

// A port on 127.0.0.1 that is free for both TCP and UDP right now.
inline int free_port() {
  static std::mt19937 random{std::random_device{}()};
  std::uniform_int_distribution<int> draw(20000, 32000);
  for (int attempt = 0; attempt < 1000; ++attempt) {
    const int port = draw(random);
    if (can_bind(SOCK_STREAM, port) && can_bind(SOCK_DGRAM, port)) return port;
  }
  throw std::runtime_error("no free port on 127.0.0.1 between 20000 and 32000");
}

}  // namespace raft::testing

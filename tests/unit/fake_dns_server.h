#pragma once
// A DNS server for tests of the c-ares code: it listens on 127.0.0.1 (UDP
// and TCP, on a port the kernel picks) and answers each query with whatever bytes the
// test's function returns -- a well-formed answer built with DnsReply, a
// garbled or cut-off one, or none at all -- so that the resolver's handling
// of every kind of answer is tested against the real c-ares.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>

namespace raft::testing {

struct DnsQuery {
  std::uint16_t id = 0;
  std::uint16_t flags = 0;
  std::string name;  // lower case, no trailing dot
  std::uint16_t type = 0;
  std::string question;  // the question section's bytes, echoed in replies
  bool over_tcp = false;
};

// Builds a reply to a query: header, the echoed question, answer records.
class DnsReply {
 public:
  static constexpr std::uint16_t kA = 1, kAaaa = 28, kSrv = 33;
  static constexpr int kNoError = 0, kServFail = 2, kNxDomain = 3;

  explicit DnsReply(const DnsQuery& query, int rcode = kNoError) : query_(query), rcode_(rcode) {}

  // Sets the TC bit: "too long for UDP, ask again over TCP".
  DnsReply& truncated() {
    truncated_ = true;
    return *this;
  }

  DnsReply& srv(std::uint16_t priority, std::uint16_t weight, std::uint16_t port, const std::string& target) {
    std::string data = u16(priority) + u16(weight) + u16(port) + encode_name(target);
    return record(kSrv, data);
  }
  DnsReply& a(const std::string& address) {
    in_addr parsed{};
    inet_pton(AF_INET, address.c_str(), &parsed);
    return record(kA, std::string(reinterpret_cast<const char*>(&parsed), sizeof parsed));
  }
  DnsReply& aaaa(const std::string& address) {
    in6_addr parsed{};
    inet_pton(AF_INET6, address.c_str(), &parsed);
    return record(kAaaa, std::string(reinterpret_cast<const char*>(&parsed), sizeof parsed));
  }
  // Any record of the query's name, with raw data (for garbled answers).
  DnsReply& record(std::uint16_t type, const std::string& data) {
    answers_ += encode_name(query_.name) + u16(type) + u16(1) + u32(30) +
                u16(static_cast<std::uint16_t>(data.size())) + data;
    ++count_;
    return *this;
  }

  std::string bytes() const {
    // QR, AA and RA set; TC if asked; RD echoed; the given RCODE.
    const std::uint16_t flags = static_cast<std::uint16_t>(0x8000 | 0x0400 | (truncated_ ? 0x0200 : 0) |
                                                           0x0080 | (query_.flags & 0x0100) | (rcode_ & 0xF));
    return u16(query_.id) + u16(flags) + u16(1) + u16(count_) + u16(0) + u16(0) + query_.question + answers_;
  }

  static std::string encode_name(const std::string& name) {
    std::string encoded;
    std::size_t start = 0;
    while (start < name.size()) {
      std::size_t dot = name.find('.', start);
      if (dot == std::string::npos) dot = name.size();
      encoded += static_cast<char>(dot - start);
      encoded += name.substr(start, dot - start);
      start = dot + 1;
    }
    return encoded + '\0';
  }

 private:
  static std::string u16(std::uint16_t value) {
    return {static_cast<char>(value >> 8), static_cast<char>(value & 0xFF)};
  }
  static std::string u32(std::uint32_t value) {
    return u16(static_cast<std::uint16_t>(value >> 16)) + u16(static_cast<std::uint16_t>(value & 0xFFFF));
  }

  DnsQuery query_;
  int rcode_;
  std::string answers_;
  std::uint16_t count_ = 0;
  bool truncated_ = false;
};

class FakeDnsServer {
 public:
  // nullopt: stay silent (the resolver times out).
  using Answer = std::function<std::optional<std::string>(const DnsQuery&)>;

  explicit FakeDnsServer(Answer answer) : answer_(std::move(answer)) {
    // UDP on a port the kernel picks, then TCP on the same number (DNS
    // clients fall back to TCP on the same port).
    for (int attempt = 0; attempt < 100 && tcp_ < 0; ++attempt) {
      if (udp_ >= 0) close(udp_);
      udp_ = bound_socket(SOCK_DGRAM, 0);
      sockaddr_in address{};
      socklen_t length = sizeof address;
      getsockname(udp_, reinterpret_cast<sockaddr*>(&address), &length);
      port_ = ntohs(address.sin_port);
      tcp_ = bound_socket(SOCK_STREAM, port_);
    }
    if (udp_ < 0 || tcp_ < 0 || listen(tcp_, 8) != 0) {
      throw std::runtime_error("cannot bind UDP and TCP sockets on 127.0.0.1");
    }
    thread_ = std::thread([this] { serve(); });
  }

  ~FakeDnsServer() {
    stopping_ = true;
    thread_.join();
    close(udp_);
    close(tcp_);
  }

  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  int queries() const { return queries_; }

  void set_answer(Answer answer) {
    std::lock_guard lock(mutex_);
    answer_ = std::move(answer);
  }

 private:
  static int bound_socket(int type, int port) {
    const int fd = socket(AF_INET, type, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(static_cast<std::uint16_t>(port));
    if (fd >= 0 && bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0) return fd;
    if (fd >= 0) close(fd);
    return -1;
  }

  std::optional<std::string> answer_to(std::optional<DnsQuery> query) {
    if (!query) return std::nullopt;
    ++queries_;
    std::lock_guard lock(mutex_);
    return answer_(*query);
  }

  void serve() {
    while (!stopping_) {
      pollfd ready[2] = {{udp_, POLLIN, 0}, {tcp_, POLLIN, 0}};
      if (poll(ready, 2, 20) <= 0) continue;
      if (ready[0].revents & POLLIN) serve_udp();
      if (ready[1].revents & POLLIN) serve_tcp();
    }
  }

  void serve_udp() {
    char buffer[1500];
    sockaddr_in from{};
    socklen_t from_length = sizeof from;
    const ssize_t size =
        recvfrom(udp_, buffer, sizeof buffer, 0, reinterpret_cast<sockaddr*>(&from), &from_length);
    if (size <= 0) return;
    if (auto reply = answer_to(parse(std::string(buffer, static_cast<std::size_t>(size)), false))) {
      sendto(udp_, reply->data(), reply->size(), 0, reinterpret_cast<sockaddr*>(&from), from_length);
    }
  }

  // One query per connection, each message behind a two-byte length.
  void serve_tcp() {
    const int connection = accept(tcp_, nullptr, nullptr);
    if (connection < 0) return;
    std::string bytes;
    char buffer[1500];
    pollfd readable{connection, POLLIN, 0};
    while (poll(&readable, 1, 1000) > 0) {
      const ssize_t size = read(connection, buffer, sizeof buffer);
      if (size <= 0) break;
      bytes.append(buffer, static_cast<std::size_t>(size));
      if (bytes.size() >= 2) {
        const std::size_t expected =
            2 + (static_cast<std::size_t>(static_cast<unsigned char>(bytes[0])) << 8 |
                 static_cast<unsigned char>(bytes[1]));
        if (bytes.size() >= expected) break;
      }
    }
    if (bytes.size() > 2) {
      if (auto reply = answer_to(parse(bytes.substr(2), true))) {
        const std::string framed =
            std::string{static_cast<char>(reply->size() >> 8), static_cast<char>(reply->size() & 0xFF)} +
            *reply;
        (void)write(connection, framed.data(), framed.size());
      }
    }
    close(connection);
  }

  static std::optional<DnsQuery> parse(const std::string& packet, bool over_tcp) {
    if (packet.size() < 12) return std::nullopt;
    auto u16_at = [&](std::size_t offset) {
      return static_cast<std::uint16_t>((static_cast<unsigned char>(packet[offset]) << 8) |
                                        static_cast<unsigned char>(packet[offset + 1]));
    };
    DnsQuery query;
    query.over_tcp = over_tcp;
    query.id = u16_at(0);
    query.flags = u16_at(2);
    std::size_t offset = 12;
    while (offset < packet.size() && packet[offset] != 0) {
      const std::size_t length = static_cast<unsigned char>(packet[offset]);
      if (offset + 1 + length > packet.size()) return std::nullopt;
      if (!query.name.empty()) query.name += '.';
      for (std::size_t i = 0; i < length; ++i) {
        query.name += static_cast<char>(std::tolower(static_cast<unsigned char>(packet[offset + 1 + i])));
      }
      offset += 1 + length;
    }
    if (offset + 5 > packet.size()) return std::nullopt;
    query.type = u16_at(offset + 1);
    query.question = packet.substr(12, offset + 5 - 12);
    return query;
  }

  std::mutex mutex_;
  Answer answer_;
  int udp_ = -1;
  int tcp_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> queries_{0};
  std::thread thread_;
};

}  // namespace raft::testing

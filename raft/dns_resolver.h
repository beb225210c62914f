#pragma once
// DNS lookups with c-ares for discovery: SRV records (RFC 2782) and the
// A/AAAA records of their targets, from the system's resolvers
// (/etc/resolv.conf) or from one given server ("127.0.0.1:5353").
//
// Lookups are synchronous -- discovery runs them on its own thread -- and
// each failure says what kind it was (no such name, server failure, timeout,
// a malformed answer, no records), because an operator reading the log
// needs to know whether the name, the server or the network is at fault.
// One DnsResolver is used by one thread at a time.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace raft {

enum class DnsFailure {
  kNone,
  kNoSuchName,     // NXDOMAIN
  kNoRecords,      // the name exists but has no records of the type
  kServerFailure,  // SERVFAIL, REFUSED, NOTIMP, FORMERR, or no server could be reached
  kTimeout,        // no answer after every try
  kMalformed,      // an answer that does not parse
  kOther,          // a bad name, no servers, out of memory, ...
};

std::string_view to_string(DnsFailure failure);

struct SrvRecord {
  std::string target;  // without the trailing dot
  std::uint16_t port = 0;
  std::uint16_t priority = 0;
  std::uint16_t weight = 0;
  bool operator==(const SrvRecord&) const = default;
};

// What a lookup found, or why it found nothing.
template <typename T>
struct DnsAnswer {
  T records{};
  DnsFailure failure = DnsFailure::kNone;
  std::string detail;  // c-ares's words for the failure
  bool ok() const { return failure == DnsFailure::kNone; }
};

struct DnsResolverOptions {
  // "host:port" of the one server to ask, IPv6 as "[::1]:53"; empty uses
  // the system's resolvers.
  std::string server;
  // Per try; a lookup gives up after tries * timeout.
  std::chrono::milliseconds timeout{1000};
  int tries = 2;
};

class DnsResolver {
 public:
  // Fails (kOther) when c-ares cannot start or `options.server` is not a
  // usable address.
  static DnsAnswer<std::unique_ptr<DnsResolver>> create(const DnsResolverOptions& options);
  ~DnsResolver();
  DnsResolver(const DnsResolver&) = delete;
  DnsResolver& operator=(const DnsResolver&) = delete;

  // The SRV records of `name`, in the order RFC 2782 asks clients to try
  // them: lowest priority first, within a priority the heaviest weight
  // first (deterministically, not by weighted lottery: every member is
  // wanted, the order only ranks them), then by target and port. A lone
  // "." target (the service is decidedly not available) is kNoRecords.
  DnsAnswer<std::vector<SrvRecord>> srv(std::string_view name);

  // The addresses of `host` as text: its A records, then its AAAA records,
  // each in the order the server gave them. kNoRecords when it has neither.
  DnsAnswer<std::vector<std::string>> addresses(std::string_view host);

 private:
  struct Channel;
  explicit DnsResolver(std::unique_ptr<Channel> channel);
  // Runs one query to completion; the raw answer, or why there is none.
  DnsAnswer<std::string> query(std::string_view name, int type);

  std::unique_ptr<Channel> channel_;
};

// "host:port" for a resolved address; IPv6 addresses in brackets.
std::string join_host_port(std::string_view address, std::uint16_t port);

}  // namespace raft

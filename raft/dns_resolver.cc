#include "raft/dns_resolver.h"

#include <ares.h>
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <poll.h>

#include <algorithm>
#include <mutex>

namespace raft {

namespace {

DnsFailure failure_of(int status) {
  switch (status) {
    case ARES_ENOTFOUND: return DnsFailure::kNoSuchName;
    case ARES_ENODATA: return DnsFailure::kNoRecords;
    case ARES_ESERVFAIL:
    case ARES_EREFUSED:
    case ARES_ENOTIMP:
    case ARES_EFORMERR:
    case ARES_ECONNREFUSED:  // every server failed, refused or was unreachable
      return DnsFailure::kServerFailure;
    case ARES_ETIMEOUT: return DnsFailure::kTimeout;
    case ARES_EBADRESP: return DnsFailure::kMalformed;
    default: return DnsFailure::kOther;
  }
}

template <typename T>
DnsAnswer<T> failed(int status, std::string_view context) {
  DnsAnswer<T> answer;
  answer.failure = failure_of(status);
  answer.detail = std::string(context) + ": " + ares_strerror(status);
  return answer;
}

// Appends the addresses of an A or AAAA answer to `out`, as text; returns
// c-ares's status.
template <typename Record, typename Parse, typename AddressOf>
int parse_addresses(const std::string& raw, Parse parse, int family, AddressOf address_of,
                    std::vector<std::string>& out) {
  Record found[32];
  int count = 32;
  const int status = parse(reinterpret_cast<const unsigned char*>(raw.data()), static_cast<int>(raw.size()),
                           nullptr, found, &count);
  if (status != ARES_SUCCESS) return status;
  char text[INET6_ADDRSTRLEN];
  for (int i = 0; i < count; ++i)
    out.emplace_back(inet_ntop(family, address_of(found[i]), text, sizeof text));
  return ARES_SUCCESS;
}

void initialise_library_once() {
  static std::once_flag once;
  std::call_once(once, [] { ares_library_init(ARES_LIB_INIT_ALL); });
}

}  // namespace

std::string_view to_string(DnsFailure failure) {
  switch (failure) {
    case DnsFailure::kNone: return "no failure";
    case DnsFailure::kNoSuchName: return "no such name (NXDOMAIN)";
    case DnsFailure::kNoRecords: return "no records of that type";
    case DnsFailure::kServerFailure: return "the server failed, refused or was unreachable";
    case DnsFailure::kTimeout: return "no answer in time";
    case DnsFailure::kMalformed: return "a malformed answer";
    case DnsFailure::kOther: return "a resolver error";
  }
  return "unknown";
}

std::string join_host_port(std::string_view address, std::uint16_t port) {
  const bool ipv6 = address.find(':') != std::string_view::npos;
  return (ipv6 ? "[" + std::string(address) + "]" : std::string(address)) + ":" + std::to_string(port);
}

struct DnsResolver::Channel {
  ares_channel handle = nullptr;
  ~Channel() {
    if (handle != nullptr) ares_destroy(handle);
  }
};

DnsResolver::DnsResolver(std::unique_ptr<Channel> channel) : channel_(std::move(channel)) {}
DnsResolver::~DnsResolver() = default;

DnsAnswer<std::unique_ptr<DnsResolver>> DnsResolver::create(const DnsResolverOptions& options) {
  initialise_library_once();
  auto channel = std::make_unique<Channel>();
  ares_options settings{};
  settings.timeout = static_cast<int>(options.timeout.count());
  settings.tries = std::max(1, options.tries);
  int mask = ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES;
  if (!options.server.empty()) {
    // With one server there is no other to try after a SERVFAIL or REFUSED:
    // hand the answer back, so that the failure is named for what it is.
    settings.flags = ARES_FLAG_NOCHECKRESP;
    mask |= ARES_OPT_FLAGS;
  }
  if (int status = ares_init_options(&channel->handle, &settings, mask); status != ARES_SUCCESS) {
    return failed<std::unique_ptr<DnsResolver>>(status, "cannot start the DNS resolver");
  }
  if (!options.server.empty()) {
    // c-ares reads "host:port" (and "[v6]:port") as a server list.
    if (int status = ares_set_servers_ports_csv(channel->handle, options.server.c_str());
        status != ARES_SUCCESS) {
      return failed<std::unique_ptr<DnsResolver>>(status,
                                                  "DNS server \"" + options.server + "\" is not usable");
    }
  }
  DnsAnswer<std::unique_ptr<DnsResolver>> answer;
  answer.records = std::unique_ptr<DnsResolver>(new DnsResolver(std::move(channel)));
  return answer;
}

DnsAnswer<std::string> DnsResolver::query(std::string_view name, int type) {
  struct Outcome {
    bool done = false;
    int status = ARES_SUCCESS;
    std::string bytes;
  } outcome;
  const std::string owned(name);
  ares_query(
      channel_->handle, owned.c_str(), C_IN, type,
      [](void* argument, int status, int /*timeouts*/, unsigned char* buffer, int length) {
        auto* result = static_cast<Outcome*>(argument);
        result->done = true;
        result->status = status;
        if (status == ARES_SUCCESS && buffer != nullptr) {
          result->bytes.assign(reinterpret_cast<const char*>(buffer), static_cast<std::size_t>(length));
        }
      },
      &outcome);
  // Drive c-ares until the callback has run; c-ares enforces the timeouts
  // and tries, and ares_timeout() bounds each wait.
  while (!outcome.done) {
    ares_socket_t sockets[ARES_GETSOCK_MAXNUM];
    const int bits = ares_getsock(channel_->handle, sockets, ARES_GETSOCK_MAXNUM);
    pollfd fds[ARES_GETSOCK_MAXNUM];
    nfds_t count = 0;
    for (int i = 0; i < ARES_GETSOCK_MAXNUM; ++i) {
      const bool readable = ARES_GETSOCK_READABLE(bits, i);
      const bool writable = ARES_GETSOCK_WRITABLE(bits, i);
      if (!readable && !writable) continue;
      fds[count++] =
          pollfd{sockets[i], static_cast<short>((readable ? POLLIN : 0) | (writable ? POLLOUT : 0)), 0};
    }
    timeval longest{1, 0};
    timeval sooner{};
    const timeval* wait = ares_timeout(channel_->handle, &longest, &sooner);  // one of the two
    const int milliseconds = static_cast<int>(wait->tv_sec * 1000 + wait->tv_usec / 1000);
    if (poll(fds, count, milliseconds) <= 0) {
      ares_process_fd(channel_->handle, ARES_SOCKET_BAD, ARES_SOCKET_BAD);  // timeouts
      continue;
    }
    for (nfds_t i = 0; i < count; ++i) {
      const bool readable = (fds[i].revents & (POLLIN | POLLERR | POLLHUP)) != 0;
      const bool writable = (fds[i].revents & POLLOUT) != 0;
      ares_process_fd(channel_->handle, readable ? fds[i].fd : ARES_SOCKET_BAD,
                      writable ? fds[i].fd : ARES_SOCKET_BAD);
    }
  }
  if (outcome.status != ARES_SUCCESS) return failed<std::string>(outcome.status, "looking up " + owned);
  DnsAnswer<std::string> answer;
  answer.records = std::move(outcome.bytes);
  return answer;
}

DnsAnswer<std::vector<SrvRecord>> DnsResolver::srv(std::string_view name) {
  DnsAnswer<std::string> raw = query(name, T_SRV);
  if (!raw.ok()) return {{}, raw.failure, raw.detail};
  ares_srv_reply* replies = nullptr;
  const int status = ares_parse_srv_reply(reinterpret_cast<const unsigned char*>(raw.records.data()),
                                          static_cast<int>(raw.records.size()), &replies);
  if (status != ARES_SUCCESS)
    return failed<std::vector<SrvRecord>>(status, "reading the SRV answer for " + std::string(name));
  DnsAnswer<std::vector<SrvRecord>> answer;
  for (const ares_srv_reply* reply = replies; reply != nullptr; reply = reply->next) {
    std::string target = reply->host == nullptr ? std::string() : std::string(reply->host);
    if (!target.empty() && target.back() == '.') target.pop_back();
    if (target.empty() || target == ".") continue;  // "no service here" (RFC 2782)
    answer.records.push_back(SrvRecord{std::move(target), reply->port, reply->priority, reply->weight});
  }
  ares_free_data(replies);
  if (answer.records.empty()) {
    return {{}, DnsFailure::kNoRecords, "looking up " + std::string(name) + ": no usable SRV records"};
  }
  std::sort(answer.records.begin(), answer.records.end(), [](const SrvRecord& a, const SrvRecord& b) {
    if (a.priority != b.priority) return a.priority < b.priority;
    if (a.weight != b.weight) return a.weight > b.weight;
    if (a.target != b.target) return a.target < b.target;
    return a.port < b.port;
  });
  return answer;
}

DnsAnswer<std::vector<std::string>> DnsResolver::addresses(std::string_view host) {
  DnsAnswer<std::vector<std::string>> answer;
  DnsFailure first_failure = DnsFailure::kNone;
  std::string first_detail;
  auto note = [&](DnsFailure failure, std::string detail) {
    if (first_failure == DnsFailure::kNone || first_failure == DnsFailure::kNoRecords) {
      first_failure = failure;
      first_detail = std::move(detail);
    }
  };
  for (const int type : {T_A, T_AAAA}) {
    DnsAnswer<std::string> raw = query(host, type);
    if (!raw.ok()) {
      note(raw.failure, raw.detail);
      continue;
    }
    const int status = type == T_A ? parse_addresses<ares_addrttl>(
                                         raw.records, ares_parse_a_reply, AF_INET,
                                         [](const ares_addrttl& r) { return &r.ipaddr; }, answer.records)
                                   : parse_addresses<ares_addr6ttl>(
                                         raw.records, ares_parse_aaaa_reply, AF_INET6,
                                         [](const ares_addr6ttl& r) { return &r.ip6addr; }, answer.records);
    if (status != ARES_SUCCESS) {
      auto why = failed<int>(status, std::string("reading the ") + (type == T_A ? "A" : "AAAA") +
                                         " answer for " + std::string(host));
      note(why.failure, why.detail);
    }
  }
  if (answer.records.empty()) {
    answer.failure = first_failure == DnsFailure::kNone ? DnsFailure::kNoRecords : first_failure;
    answer.detail =
        first_detail.empty() ? "looking up " + std::string(host) + ": no A or AAAA records" : first_detail;
  }
  return answer;
}

}  // namespace raft

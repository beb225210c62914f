#include "raft/dns_discovery.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <random>

namespace raft {

std::optional<NodeId> DnsDiscovery::member_of_target(std::string_view target) {
  const std::string_view label = target.substr(0, target.find('.'));
  std::size_t digits = 0;
  while (digits < label.size() &&
         std::isdigit(static_cast<unsigned char>(label[label.size() - 1 - digits]))) {
    ++digits;
  }
  if (digits == 0 || digits > 9) return std::nullopt;
  NodeId ordinal = 0;
  for (const char digit : label.substr(label.size() - digits)) ordinal = ordinal * 10 + (digit - '0');
  return ordinal + 1;
}

Result<std::unique_ptr<DnsDiscovery>> DnsDiscovery::create(DnsDiscoveryOptions options) {
  if (options.srv_name.empty()) return Error{ErrorCode::kInvalidArgument, "no SRV name to look up"};
  if (options.members.empty()) return Error{ErrorCode::kInvalidArgument, "no members to discover"};
  DnsAnswer<std::unique_ptr<DnsResolver>> resolver = DnsResolver::create(options.resolver);
  if (!resolver.ok()) return Error{ErrorCode::kInvalidArgument, resolver.detail};
  return std::unique_ptr<DnsDiscovery>(new DnsDiscovery(std::move(options), std::move(resolver.records)));
}

DnsDiscovery::DnsDiscovery(DnsDiscoveryOptions options, std::unique_ptr<DnsResolver> resolver)
    : options_(std::move(options)), resolver_(std::move(resolver)) {}

DnsDiscovery::~DnsDiscovery() {
  stop();
}

std::vector<Peer> DnsDiscovery::members_locked() const {
  std::vector<Peer> members;
  for (const NodeId id : options_.members) {
    auto found = addresses_.find(id);
    members.push_back(Peer{id, found == addresses_.end() ? std::string() : found->second});
  }
  return members;
}

Result<std::vector<Peer>> DnsDiscovery::discover() {
  std::lock_guard lock(mutex_);
  return members_locked();
}

DiscoveryWatch DnsDiscovery::watch(Listener listener) {
  std::lock_guard lock(listeners_mutex_);
  // The current members first: a change between the caller's discover()
  // and this call is not lost.
  listener(discover().value());
  const std::uint64_t key = next_listener_++;
  listeners_[key] = std::move(listener);
  return DiscoveryWatch([this, key] {
    std::lock_guard unwatch(listeners_mutex_);
    listeners_.erase(key);
  });
}

void DnsDiscovery::unreachable(NodeId /*member*/) {
  {
    std::lock_guard lock(mutex_);
    hinted_ = true;
  }
  wake_.notify_all();
}

void DnsDiscovery::warn_once(const std::string& key, const std::string& message) {
  std::lock_guard lock(mutex_);
  if (warned_.insert(key).second) spdlog::warn("{}", message);
}

void DnsDiscovery::report_failure(DnsFailure failure, const std::string& detail) {
  std::lock_guard lock(mutex_);
  // Once per kind of failure: a name that stays missing is one line, not
  // one per retry.
  if (failure != last_failure_) {
    spdlog::warn("{} discovery: {} ({}); keeping the addresses known so far and retrying with back-off",
                 options_.what, to_string(failure), detail);
  }
  last_failure_ = failure;
}

bool DnsDiscovery::resolve_now() {
  std::lock_guard resolving(resolve_mutex_);
  DnsAnswer<std::vector<SrvRecord>> records = resolver_->srv(options_.srv_name);
  if (!records.ok()) {
    report_failure(records.failure, records.detail);
    return false;
  }
  std::map<NodeId, std::string> found;
  bool every_target_resolved = true;
  for (const SrvRecord& record : records.records) {
    const std::optional<NodeId> id = member_of_target(record.target);
    if (!id) {
      warn_once(record.target, options_.what + " discovery: ignoring SRV target " + record.target +
                                   ": its first label does not end in a member number");
      continue;
    }
    if (std::find(options_.members.begin(), options_.members.end(), *id) == options_.members.end()) {
      warn_once(record.target, options_.what + " discovery: ignoring SRV target " + record.target +
                                   ": member " + std::to_string(*id) + " is not one of this cluster's");
      continue;
    }
    if (found.contains(*id)) {
      warn_once(record.target + "#duplicate", options_.what + " discovery: SRV target " + record.target +
                                                  " names member " + std::to_string(*id) +
                                                  " again; using the record that ranks first");
      continue;
    }
    DnsAnswer<std::vector<std::string>> addresses = resolver_->addresses(record.target);
    if (!addresses.ok()) {
      report_failure(addresses.failure, addresses.detail);
      every_target_resolved = false;
      continue;
    }
    found[*id] = join_host_port(addresses.records.front(), record.port);
  }

  std::vector<Peer> members;
  bool changed = false;
  {
    std::lock_guard lock(mutex_);
    resolved_ = resolved_ || every_target_resolved;
    if (every_target_resolved && last_failure_ != DnsFailure::kNone) {
      spdlog::info("{} discovery: {} resolves again", options_.what, options_.srv_name);
      last_failure_ = DnsFailure::kNone;
    }
    for (const auto& [id, address] : found) {
      std::string& known = addresses_[id];
      if (known == address) continue;
      spdlog::info("{} discovery: member {} is at {}{}", options_.what, id, address,
                   known.empty() ? "" : " (was " + known + ")");
      known = address;
      changed = true;
    }
    members = members_locked();
  }
  if (changed) {
    std::lock_guard lock(listeners_mutex_);
    for (const auto& [key, listener] : listeners_) listener(members);
  }
  return every_target_resolved;
}

void DnsDiscovery::start() {
  std::lock_guard lock(mutex_);
  if (thread_.joinable() || stopping_) return;
  thread_ = std::thread([this] { run(); });
}

void DnsDiscovery::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void DnsDiscovery::run() {
  using Clock = std::chrono::steady_clock;
  std::mt19937_64 random{std::random_device{}()};
  std::chrono::milliseconds backoff = options_.min_backoff;
  const Clock::time_point started = Clock::now();
  Clock::time_point last_lookup = started - options_.min_lookup_interval;
  Clock::time_point due = started;
  {
    std::lock_guard lock(mutex_);
    if (resolved_) due += options_.refresh_interval;  // resolve_now() just did
  }
  while (true) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait_until(lock, due, [&] { return stopping_ || hinted_; });
      if (stopping_) return;
      if (hinted_) {
        // A member did not answer: look again, but not more often than
        // min_lookup_interval however many connections fail.
        hinted_ = false;
        due = std::min(due, std::max(Clock::now(), last_lookup + options_.min_lookup_interval));
        if (Clock::now() < due) continue;
      }
    }
    last_lookup = Clock::now();
    if (resolve_now()) {
      backoff = options_.min_backoff;
      due = last_lookup + options_.refresh_interval;
    } else {
      std::uniform_int_distribution<long> jitter(0, backoff.count() / 2);
      due = last_lookup + backoff + std::chrono::milliseconds(jitter(random));
      backoff = std::min(backoff * 2, options_.max_backoff);
    }
  }
}

}  // namespace raft

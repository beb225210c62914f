#include "tests/checker/register_zones.h"

#include <algorithm>
#include <limits>
#include <map>

namespace raftkv::checker {

namespace {

constexpr std::int64_t kBeforeEverything = std::numeric_limits<std::int64_t>::min() / 2;

struct Zone {
  std::int64_t from = 0;  // forward: earliest completion; backward: latest invocation
  std::int64_t to = 0;    // forward: latest invocation; backward: earliest completion
  bool forward = false;
  const Operation* write = nullptr;         // nullptr: the initial value
  const Operation* latest_start = nullptr;  // the operation invoked last
};

std::string name(const Zone& zone) {
  return zone.write == nullptr ? std::string("the initial (absent) value")
                               : "the value of " + describe(*zone.write);
}

}  // namespace

std::optional<ZoneViolation> find_zone_violation(const std::vector<Operation>& ops) {
  // Clusters, by value written ("" key for the initial value is kept apart).
  struct Cluster {
    const Operation* write = nullptr;
    std::vector<const Operation*> reads;
  };
  std::map<std::string, Cluster> clusters;
  Cluster initial;
  for (const Operation& op : ops) {
    if (op.kind == OpKind::kWrite) clusters[*op.value].write = &op;
  }
  for (const Operation& op : ops) {
    if (op.kind != OpKind::kRead) continue;
    if (!op.observed) {
      initial.reads.push_back(&op);
      continue;
    }
    auto cluster = clusters.find(*op.observed);
    if (cluster == clusters.end() || cluster->second.write == nullptr) {
      return ZoneViolation{op, "it read a value no write wrote"};
    }
    if (op.complete < cluster->second.write->invoke) {
      return ZoneViolation{
          op, "it completed before the write of its value began: " + describe(*cluster->second.write)};
    }
    cluster->second.reads.push_back(&op);
  }

  std::vector<Zone> zones;
  auto zone_of = [&](const Cluster& cluster) {
    std::int64_t earliest_completion = cluster.write ? cluster.write->complete : kBeforeEverything;
    std::int64_t latest_invocation = cluster.write ? cluster.write->invoke : kBeforeEverything;
    const Operation* latest = cluster.write;
    for (const Operation* read : cluster.reads) {
      earliest_completion = std::min(earliest_completion, read->complete);
      if (read->invoke > latest_invocation || latest == nullptr) {
        latest_invocation = read->invoke;
        latest = read;
      }
    }
    Zone zone;
    zone.write = cluster.write;
    zone.latest_start = latest;
    zone.forward = earliest_completion < latest_invocation;
    zone.from = zone.forward ? earliest_completion : latest_invocation;
    zone.to = zone.forward ? latest_invocation : earliest_completion;
    return zone;
  };
  if (!initial.reads.empty()) zones.push_back(zone_of(initial));
  for (const auto& [value, cluster] : clusters) zones.push_back(zone_of(cluster));

  std::vector<const Zone*> forward;
  for (const Zone& zone : zones) {
    if (zone.forward) forward.push_back(&zone);
  }
  std::sort(forward.begin(), forward.end(), [](const Zone* a, const Zone* b) { return a->from < b->from; });
  for (std::size_t i = 1; i < forward.size(); ++i) {
    if (forward[i]->from < forward[i - 1]->to) {
      return ZoneViolation{*forward[i]->latest_start,
                           "reads of " + name(*forward[i]) + " and of " + name(*forward[i - 1]) +
                               " interleave in real time: each was read after the other had to be replaced"};
    }
  }
  // Forward zones are now disjoint and sorted: the only one that can hold a
  // backward zone is the last one starting before it.
  for (const Zone& zone : zones) {
    if (zone.forward) continue;
    auto after = std::upper_bound(forward.begin(), forward.end(), zone.from,
                                  [](std::int64_t at, const Zone* f) { return at < f->from; });
    if (after == forward.begin()) continue;
    const Zone* around = *(after - 1);
    if (around->from < zone.from && zone.to < around->to) {
      return ZoneViolation{*zone.latest_start,
                           name(zone) + " had to take effect while " + name(*around) +
                               " was being read before and after it, with nothing overwriting it"};
    }
  }
  return std::nullopt;
}

}  // namespace raftkv::checker

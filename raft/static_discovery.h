#pragma once
// Members configured by hand, e.g. from "--peers 1=10.0.0.1:7001,2=...".

#include <string_view>

#include "raft/discovery.h"

namespace raft {

class StaticDiscovery final : public Discovery {
 public:
  explicit StaticDiscovery(std::vector<Peer> peers) : peers_(std::move(peers)) {}

  // Parses "ID=HOST:PORT,ID=HOST:PORT,...". Ids must be positive and unique.
  static Result<std::vector<Peer>> parse(std::string_view text);

  Result<std::vector<Peer>> discover() override { return peers_; }

 private:
  std::vector<Peer> peers_;
};

}  // namespace raft

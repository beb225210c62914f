#include "raft/static_discovery.h"

#include <charconv>
#include <set>
#include <string>

namespace raft {

Result<std::vector<Peer>> StaticDiscovery::parse(std::string_view text) {
  std::vector<Peer> peers;
  std::set<NodeId> seen;
  while (!text.empty()) {
    const std::size_t comma = text.find(',');
    const std::string_view item = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
    const std::size_t equals = item.find('=');
    if (equals == std::string_view::npos || equals == 0 || equals + 1 == item.size()) {
      return Error{ErrorCode::kInvalidArgument, "peer \"" + std::string(item) + "\" is not ID=HOST:PORT"};
    }
    NodeId id = 0;
    const std::string_view id_text = item.substr(0, equals);
    const auto [end, error] = std::from_chars(id_text.data(), id_text.data() + id_text.size(), id);
    if (error != std::errc{} || end != id_text.data() + id_text.size() || id == kNoNode) {
      return Error{ErrorCode::kInvalidArgument,
                   "peer id \"" + std::string(id_text) + "\" is not a positive integer"};
    }
    const std::string_view address = item.substr(equals + 1);
    if (address.rfind(':') == std::string_view::npos) {
      return Error{ErrorCode::kInvalidArgument, "peer address \"" + std::string(address) + "\" has no port"};
    }
    if (!seen.insert(id).second) {
      return Error{ErrorCode::kInvalidArgument, "peer id " + std::to_string(id) + " appears twice"};
    }
    peers.push_back(Peer{id, std::string(address)});
  }
  if (peers.empty()) return Error{ErrorCode::kInvalidArgument, "no peers given"};
  return peers;
}

}  // namespace raft

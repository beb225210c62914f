#include "raft/membership.h"

#include <algorithm>
#include <stdexcept>

namespace raft {

namespace {

bool contains(const std::vector<NodeId>& sorted, NodeId node) {
  return std::binary_search(sorted.begin(), sorted.end(), node);
}

std::string join(const std::vector<NodeId>& nodes) {
  std::string text;
  for (NodeId node : nodes) text += (text.empty() ? "" : ",") + std::to_string(node);
  return text.empty() ? "none" : text;
}

Error refuse(std::string message) {
  return Error{ErrorCode::kFailedPrecondition, std::move(message)};
}

}  // namespace

std::string_view to_string(MembershipChangeKind kind) {
  switch (kind) {
    case MembershipChangeKind::kAddLearner: return "add learner";
    case MembershipChangeKind::kPromote: return "promote";
    case MembershipChangeKind::kRemove: return "remove";
  }
  return "unknown";
}

Membership::Membership(pb::Configuration configuration) : configuration_(std::move(configuration)) {
  for (const pb::Member& member : configuration_.voters()) voters_.push_back(member.id());
  for (const pb::Member& member : configuration_.learners()) learners_.push_back(member.id());
  std::sort(voters_.begin(), voters_.end());
  std::sort(learners_.begin(), learners_.end());
  std::vector<NodeId> all;
  std::merge(voters_.begin(), voters_.end(), learners_.begin(), learners_.end(), std::back_inserter(all));
  if (!all.empty() && all.front() == kNoNode) throw std::invalid_argument("member id must not be 0");
  if (std::adjacent_find(all.begin(), all.end()) != all.end()) {
    throw std::invalid_argument("a member is listed twice in configuration " + describe());
  }
}

Membership Membership::of_voters(const std::vector<NodeId>& voters) {
  pb::Configuration configuration;
  std::vector<NodeId> unique = voters;
  std::sort(unique.begin(), unique.end());
  unique.erase(std::unique(unique.begin(), unique.end()), unique.end());
  for (NodeId voter : unique) configuration.add_voters()->set_id(voter);
  return Membership(std::move(configuration));
}

Result<Membership> Membership::parse(const std::string& data) {
  pb::Configuration configuration;
  if (!configuration.ParseFromString(data)) {
    return Error{ErrorCode::kInvalidArgument, "a configuration entry does not parse"};
  }
  return validated(std::move(configuration));
}

Result<Membership> Membership::validated(pb::Configuration configuration) {
  try {
    return Membership(std::move(configuration));
  } catch (const std::invalid_argument& error) {
    return Error{ErrorCode::kInvalidArgument, error.what()};
  }
}

std::string Membership::serialize() const {
  return configuration_.SerializeAsString();
}

bool Membership::is_voter(NodeId node) const {
  return contains(voters_, node);
}

bool Membership::is_learner(NodeId node) const {
  return contains(learners_, node);
}

const pb::Member* find_member(const pb::Configuration& configuration, NodeId node) {
  for (const auto* members : {&configuration.voters(), &configuration.learners()}) {
    for (const pb::Member& member : *members) {
      if (member.id() == node) return &member;
    }
  }
  return nullptr;
}

std::string Membership::address_of(NodeId node) const {
  const pb::Member* member = find_member(configuration_, node);
  return member == nullptr ? std::string() : member->address();
}

Result<Membership> Membership::apply(const MembershipChange& change) const {
  const std::string node = "node " + std::to_string(change.node);
  if (change.node == kNoNode) return Error{ErrorCode::kInvalidArgument, "the member id must be positive"};
  pb::Configuration next = configuration_;
  switch (change.kind) {
    case MembershipChangeKind::kAddLearner: {
      if (is_member(change.node)) return refuse(node + " is already a member (" + describe() + ")");
      if (std::find(configuration_.removed().begin(), configuration_.removed().end(), change.node) !=
          configuration_.removed().end()) {
        return refuse(node + " was removed from this cluster; a new member needs a new id");
      }
      if (change.address.empty()) return Error{ErrorCode::kInvalidArgument, node + " needs a peer address"};
      pb::Member* added = next.add_learners();
      added->set_id(change.node);
      added->set_address(change.address);
      added->set_client_address(change.client_address);
      break;
    }
    case MembershipChangeKind::kPromote: {
      if (!is_learner(change.node)) {
        return refuse(node + (is_voter(change.node) ? " is a voter already" : " is not a member") + " (" +
                      describe() + ")");
      }
      auto* learners = next.mutable_learners();
      auto found = std::find_if(learners->begin(), learners->end(),
                                [&](const pb::Member& member) { return member.id() == change.node; });
      *next.add_voters() = *found;
      learners->erase(found);
      break;
    }
    case MembershipChangeKind::kRemove: {
      if (!is_member(change.node)) return refuse(node + " is not a member (" + describe() + ")");
      if (voters_.size() == 1 && is_voter(change.node)) {
        return refuse(node + " is the only voter; a cluster needs one");
      }
      for (auto* members : {next.mutable_voters(), next.mutable_learners()}) {
        members->erase(std::remove_if(members->begin(), members->end(),
                                      [&](const pb::Member& member) { return member.id() == change.node; }),
                       members->end());
      }
      next.add_removed(change.node);
      break;
    }
  }
  return Membership(std::move(next));
}

std::string Membership::describe() const {
  return "voters " + join(voters_) + "; learners " + join(learners_);
}

}  // namespace raft

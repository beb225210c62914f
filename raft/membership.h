#pragma once
// One cluster configuration (dissertation chapter 4): who votes and who only
// learns. Immutable once built; a change makes a new one.
//
// raftkv changes membership one server at a time (§4.1): any two majorities
// of configurations that differ by one voter overlap, so a configuration
// takes effect the moment it is in a server's log and no joint phase is
// needed. A new server first joins as a learner, which receives the log but
// is never counted, and becomes a voter only once it has caught up (§4.2.1),
// so that adding it never leaves the cluster waiting for it.

#include <string>
#include <vector>

#include "raft/result.h"
#include "raft/types.h"

namespace raft {

enum class MembershipChangeKind { kAddLearner, kPromote, kRemove };

std::string_view to_string(MembershipChangeKind kind);

// What an operator asks for. `address` is where peers reach a new member,
// `client_address` where it serves the application (optional); only
// kAddLearner uses them.
struct MembershipChange {
  MembershipChangeKind kind = MembershipChangeKind::kAddLearner;
  NodeId node = kNoNode;
  std::string address;
  std::string client_address;
};

// The voter or learner `node` of `configuration`, or null.
const pb::Member* find_member(const pb::Configuration& configuration, NodeId node);

class Membership {
 public:
  Membership() = default;
  // Throws std::invalid_argument for a node id 0 or a node listed twice.
  explicit Membership(pb::Configuration configuration);
  static Membership of_voters(const std::vector<NodeId>& voters);
  // The same, with the error as a value.
  static Result<Membership> validated(pb::Configuration configuration);
  // Parses the data of an ENTRY_CONFIGURATION entry.
  static Result<Membership> parse(const std::string& data);

  const pb::Configuration& configuration() const { return configuration_; }
  std::string serialize() const;

  const std::vector<NodeId>& voters() const { return voters_; }
  const std::vector<NodeId>& learners() const { return learners_; }
  bool is_voter(NodeId node) const;
  bool is_learner(NodeId node) const;
  bool is_member(NodeId node) const { return is_voter(node) || is_learner(node); }
  bool empty() const { return voters_.empty() && learners_.empty(); }
  // The address recorded for `node`; empty when unknown.
  std::string address_of(NodeId node) const;

  // The configuration `change` leads to, or why it cannot be made: adding a
  // member twice or an id removed before, promoting a non-learner, removing
  // a non-member or the last voter.
  Result<Membership> apply(const MembershipChange& change) const;

  // "voters 1,2,3; learners 4" for logs and errors.
  std::string describe() const;

  bool operator==(const Membership& other) const {
    return voters_ == other.voters_ && learners_ == other.learners_;
  }

 private:
  pb::Configuration configuration_;
  std::vector<NodeId> voters_;    // sorted
  std::vector<NodeId> learners_;  // sorted
};

}  // namespace raft

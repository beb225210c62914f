#include "tests/sim/client_history.h"

namespace raft::sim {

using raftkv::checker::OpKind;
using raftkv::checker::Outcome;

std::string ClientHistory::write_command(const std::string& key, const std::string& value) {
  return "w " + key + " " + value;
}

raftkv::checker::Operation& ClientHistory::invoke(NodeId node, OpKind kind, const std::string& key,
                                                  std::uint64_t now) {
  raftkv::checker::Operation& op = operations_.emplace_back();
  op.id = operations_.size();
  op.client = node;
  op.kind = kind;
  op.key = key;
  op.invoke = static_cast<std::int64_t>(now);
  return op;
}

std::pair<std::size_t, std::string> ClientHistory::invoke_write(NodeId node, const std::string& key,
                                                                std::uint64_t now) {
  raftkv::checker::Operation& op = invoke(node, OpKind::kWrite, key, now);
  op.value = "v" + std::to_string(++values_);
  return {operations_.size() - 1, write_command(key, *op.value)};
}

void ClientHistory::write_answered(std::size_t write, const Result<Applied>& answer, std::uint64_t now) {
  raftkv::checker::Operation& op = operations_[write];
  if (answer.ok()) {
    op.outcome = Outcome::kOk;
  } else {
    switch (answer.error().code) {
      case ErrorCode::kNotLeader:
      case ErrorCode::kLeadershipTransfer:
      case ErrorCode::kOverloaded:
      case ErrorCode::kExpired:
      case ErrorCode::kInvalidArgument:
      case ErrorCode::kFailedPrecondition:
      case ErrorCode::kProposalDropped: op.outcome = Outcome::kFailed; break;
      default: return;  // may have taken effect, or yet may: unknown
    }
  }
  op.complete = static_cast<std::int64_t>(now);
}

std::size_t ClientHistory::invoke_read(NodeId node, const std::string& key, std::uint64_t now) {
  invoke(node, OpKind::kRead, key, now);
  return operations_.size() - 1;
}

void ClientHistory::read_answered(std::size_t read, bool ok, std::optional<std::string> value,
                                  std::uint64_t now) {
  raftkv::checker::Operation& op = operations_[read];
  op.outcome = ok ? Outcome::kOk : Outcome::kFailed;
  if (ok) op.observed = std::move(value);
  op.complete = static_cast<std::int64_t>(now);
}

}  // namespace raft::sim

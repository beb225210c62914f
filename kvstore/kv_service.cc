#include "kvstore/kv_service.h"

#include <grpcpp/grpcpp.h>

#include "kvstore/leader_routing.h"

namespace kv {

namespace api = raftkv::api;
using Clock = std::chrono::system_clock;

namespace {

grpc::Status invalid(const std::string& why) {
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, why);
}

// The request as a command, for checking and proposing.
pb::Command command_of(const api::PutRequest& request) {
  pb::Command command;
  *command.mutable_put() = request;
  return command;
}
pb::Command command_of(const api::DeleteRequest& request) {
  pb::Command command;
  *command.mutable_delete_() = request;
  return command;
}
pb::Command command_of(const api::TxnRequest& request) {
  pb::Command command;
  *command.mutable_txn() = request;
  return command;
}

}  // namespace

// Connections to the other members' client ports, made on first use.
class KvService::Forwarder {
 public:
  api::KV::Stub& stub(const std::string& address) {
    std::lock_guard lock(mutex_);
    std::unique_ptr<api::KV::Stub>& stub = stubs_[address];
    if (!stub) stub = api::KV::NewStub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
    return *stub;
  }

 private:
  std::mutex mutex_;
  std::map<std::string, std::unique_ptr<api::KV::Stub>> stubs_;
};

KvService::KvService(KvServiceOptions options, raft::Server& server, Store& store)
    : options_(std::move(options)),
      client_addresses_(options_.client_addresses),
      server_(server),
      store_(store),
      forwarder_(std::make_unique<Forwarder>()) {}

void KvService::set_client_addresses(std::map<raft::NodeId, std::string> addresses) {
  std::lock_guard lock(addresses_mutex_);
  client_addresses_ = std::move(addresses);
}

std::string KvService::client_address(raft::NodeId member) const {
  std::lock_guard lock(addresses_mutex_);
  auto found = client_addresses_.find(member);
  return found == client_addresses_.end() ? std::string() : found->second;
}

KvService::~KvService() = default;

Clock::time_point KvService::deadline_of(const grpc::ServerContext* context) const {
  const Clock::time_point fallback = Clock::now() + options_.default_timeout;
  return std::min(context->deadline(), fallback);
}

grpc::Status KvService::unavailable(const std::string& why) const {
  const raft::NodeId leader = server_.status().leader;
  const std::string address = client_address(leader);
  std::string message = why;
  if (leader != raft::kNoNode && !address.empty()) {
    message += "; the leader is member " + std::to_string(leader) + " at " + address;
  } else {
    message += "; no leader is known (an election may be under way), retry shortly";
  }
  return grpc::Status(grpc::StatusCode::UNAVAILABLE, message);
}

grpc::Status KvService::not_applied(grpc::ServerContext* context, const std::string& why) const {
  context->AddTrailingMetadata(kNotAppliedTrailer, "1");
  return unavailable(why);
}

void KvService::fill(api::ResponseHeader& header, raft::Index revision) const {
  header.set_cluster_id(options_.cluster_id);
  header.set_member_id(options_.member_id);
  header.set_term(server_.status().term);
  header.set_revision(revision);
}

grpc::Status KvService::write(grpc::ServerContext* context, pb::Command command, pb::CommandResult& result) {
  if (in_flight_.fetch_add(1) >= options_.max_in_flight) {
    --in_flight_;
    return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "member " + std::to_string(options_.member_id) +
                                                                  " has " +
                                                                  std::to_string(options_.max_in_flight) +
                                                                  " requests in flight; retry with back-off");
  }
  struct Release {
    std::atomic<std::size_t>& count;
    ~Release() { --count; }
  } release{in_flight_};

  // Cluster time for session expiry: this leader's clock, carried in the
  // log (the store never lets it run backwards).
  command.set_cluster_time_ms(static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch()).count()));
  std::future<raft::Result<raft::Applied>> future = server_.propose(command.SerializeAsString());
  if (future.wait_until(deadline_of(context)) != std::future_status::ready) {
    return grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                        "the write was not applied before the deadline; its outcome is unknown (it may still "
                        "apply: use a session to retry safely)");
  }
  raft::Result<raft::Applied> applied = future.get();
  if (!applied.ok()) {
    switch (applied.error().code) {
      case raft::ErrorCode::kTimeout:
        return grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, applied.error().message);
      case raft::ErrorCode::kProposalDropped:
        return not_applied(context, "the write was lost to a leader change and not applied");
      case raft::ErrorCode::kNotLeader:
      case raft::ErrorCode::kLeadershipTransfer:
        return not_applied(context, "the write was not proposed: " + applied.error().message);
      default: return unavailable(applied.error().message);
    }
  }
  if (!result.ParseFromString(applied.value().result)) {
    return grpc::Status(grpc::StatusCode::INTERNAL, "the state machine's answer is unreadable");
  }
  if (!result.error().empty()) return invalid(result.error());
  return grpc::Status::OK;
}

namespace {

// Runs `forward` against the leader when this member is not it.
template <typename Forward>
std::optional<grpc::Status> forward_if_follower(const raft::ServerStatus& status,
                                                const std::string& leader_address,
                                                grpc::ServerContext* context, Forward&& forward) {
  if (status.role == raft::Role::kLeader) return std::nullopt;
  if (status.leader == raft::kNoNode || leader_address.empty() || forwarded(context)) {
    return std::nullopt;  // propose() will refuse, naming what it knows
  }
  grpc::ClientContext client;
  client.set_deadline(context->deadline());
  mark_forwarded(client);
  grpc::Status status_of_forward = forward(client, leader_address);
  if (status_of_forward.error_code() == grpc::StatusCode::UNAVAILABLE) {
    // Only the leader's own answer can say the write did not apply; a
    // failure on the way leaves it unknown.
    if (client.GetServerTrailingMetadata().count(kNotAppliedTrailer) > 0) {
      context->AddTrailingMetadata(kNotAppliedTrailer, "1");
    }
    // Say where the request went: the leader may be gone, or unreachable.
    return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                        "forwarded to the leader, member " + std::to_string(status.leader) + " at " +
                            leader_address + ": " + status_of_forward.error_message());
  }
  return status_of_forward;
}

}  // namespace

template <typename Request, typename Response, typename Forward, typename Take>
grpc::Status KvService::handle_write(grpc::ServerContext* context, const Request& request, Response* response,
                                     Forward&& forward, Take&& take) {
  pb::Command command = command_of(request);
  if (std::string problem = Store::problem_with(command); !problem.empty()) return invalid(problem);
  const raft::ServerStatus member = status_with_leader(server_, deadline_of(context), options_.leader_wait);
  if (auto done = forward_if_follower(member, client_address(member.leader), context,
                                      [&](grpc::ClientContext& client, const std::string& address) {
                                        return forward(forwarder_->stub(address), client);
                                      })) {
    return *done;
  }
  pb::CommandResult result;
  if (grpc::Status status = write(context, std::move(command), result); !status.ok()) return status;
  *response = take(result);
  fill(*response->mutable_header(), response->header().revision());
  return grpc::Status::OK;
}

grpc::Status KvService::Put(grpc::ServerContext* context, const api::PutRequest* request,
                            api::PutResponse* response) {
  return handle_write(
      context, *request, response,
      [&](api::KV::Stub& leader, grpc::ClientContext& client) {
        return leader.Put(&client, *request, response);
      },
      [](const pb::CommandResult& result) { return result.put(); });
}

grpc::Status KvService::Delete(grpc::ServerContext* context, const api::DeleteRequest* request,
                               api::DeleteResponse* response) {
  return handle_write(
      context, *request, response,
      [&](api::KV::Stub& leader, grpc::ClientContext& client) {
        return leader.Delete(&client, *request, response);
      },
      [](const pb::CommandResult& result) { return result.delete_(); });
}

grpc::Status KvService::Txn(grpc::ServerContext* context, const api::TxnRequest* request,
                            api::TxnResponse* response) {
  const grpc::Status status = handle_write(
      context, *request, response,
      [&](api::KV::Stub& leader, grpc::ClientContext& client) {
        return leader.Txn(&client, *request, response);
      },
      [](const pb::CommandResult& result) { return result.txn(); });
  if (status.ok() && !response->succeeded() && request->failure().empty()) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                        "the transaction's compares did not hold (at revision " +
                            std::to_string(response->header().revision()) + "); nothing was written");
  }
  return status;
}

grpc::Status KvService::Range(grpc::ServerContext* context, const api::RangeRequest* request,
                              api::RangeResponse* response) {
  if (request->key().empty())
    return invalid("the key is empty (for every key, use key \"\\0\" and range_end \"\\0\")");
  if (request->key().size() > Store::kMaxKeyBytes) {
    return invalid("the key is " + std::to_string(request->key().size()) + " bytes, over the limit of " +
                   std::to_string(Store::kMaxKeyBytes));
  }
  if (request->limit() < 0) return invalid("the limit is negative");
  if (!request->serializable()) {
    status_with_leader(server_, deadline_of(context), options_.leader_wait);
    // Linearizable (§6.4): the leader confirms a read point, this member
    // applies up to it, then the local store answers.
    std::future<raft::Result<raft::Index>> read_point = server_.read_index();
    if (read_point.wait_until(deadline_of(context)) != std::future_status::ready) {
      return grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                          "no leader confirmed the read before the deadline");
    }
    raft::Result<raft::Index> confirmed = read_point.get();
    if (!confirmed.ok()) {
      if (confirmed.error().code == raft::ErrorCode::kTimeout) {
        return grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, confirmed.error().message);
      }
      return unavailable("a linearizable read needs a leader: " + confirmed.error().message);
    }
  }
  raft::Result<api::RangeResponse> read = store_.range(*request);
  if (!read.ok()) return grpc::Status(grpc::StatusCode::INTERNAL, read.error().to_string());
  *response = std::move(read).value();
  fill(*response->mutable_header(), response->header().revision());
  return grpc::Status::OK;
}

}  // namespace kv

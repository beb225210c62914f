#include "kvstore/admin_service.h"

#include <grpcpp/grpcpp.h>

#include <filesystem>

#include "kvstore/leader_routing.h"

namespace kv {

namespace api = raftkv::api;

namespace {

std::uint64_t directory_bytes(const std::string& directory) {
  std::uint64_t total = 0;
  std::error_code error;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(directory, error)) {
    if (entry.is_regular_file(error)) total += entry.file_size(error);
  }
  return total;
}

}  // namespace

AdminService::AdminService(AdminServiceOptions options, raft::Server& server, const Store& store)
    : options_(std::move(options)), server_(server), store_(store) {}

void AdminService::set_members(std::vector<api::Member> members) {
  std::lock_guard lock(members_mutex_);
  members_ = std::move(members);
}

std::string AdminService::client_address(raft::NodeId member) const {
  std::lock_guard lock(members_mutex_);
  for (const api::Member& known : members_) {
    if (known.id() == member) return known.client_address();
  }
  return {};
}

void AdminService::fill(api::ResponseHeader& header, const raft::ServerStatus& status) const {
  header.set_cluster_id(options_.cluster_id);
  header.set_member_id(options_.member_id);
  header.set_term(status.term);
  header.set_revision(status.applied_index);
}

grpc::Status AdminService::Status(grpc::ServerContext*, const api::StatusRequest* request,
                                  api::StatusResponse* response) {
  const raft::ServerStatus status = server_.status();
  fill(*response->mutable_header(), status);
  response->set_leader(status.leader);
  response->set_role(std::string(raft::to_string(status.role)));
  response->set_commit_index(status.commit_index);
  response->set_applied_index(status.applied_index);
  response->set_first_log_index(status.first_log_index);
  response->set_last_log_index(status.last_log_index);
  response->set_snapshot_index(status.snapshot_index);
  if (!options_.data_directory.empty()) response->set_data_bytes(directory_bytes(options_.data_directory));
  for (const raft::FollowerStatus& follower : status.followers) {
    api::PeerProgress* peer = response->add_peers();
    peer->set_id(follower.id);
    peer->set_match_index(follower.match_index);
    peer->set_next_index(follower.next_index);
    peer->set_mode(std::string(raft::to_string(follower.mode)));
  }
  if (request->with_state_digest()) {
    const raft::Result<Store::Digest> digest = store_.digest();
    if (!digest.ok()) return grpc::Status(grpc::StatusCode::INTERNAL, digest.error().to_string());
    api::StateDigest* state = response->mutable_state();
    state->set_applied_index(digest.value().applied_index);
    state->set_digest(digest.value().digest);
    state->set_keys(digest.value().keys);
  }
  return grpc::Status::OK;
}

grpc::Status AdminService::Health(grpc::ServerContext*, const api::HealthRequest*,
                                  api::HealthResponse* response) {
  const raft::ServerStatus status = server_.status();
  fill(*response->mutable_header(), status);
  if (status.leader == raft::kNoNode) {
    response->set_reason("no leader is known");
    return grpc::Status::OK;
  }
  std::future<raft::Result<raft::Index>> read = server_.read_index();
  if (read.wait_for(std::chrono::seconds(1)) != std::future_status::ready) {
    response->set_reason("a linearizable read did not complete within a second");
    return grpc::Status::OK;
  }
  const raft::Result<raft::Index> confirmed = read.get();
  if (!confirmed.ok()) {
    response->set_reason("a linearizable read failed: " + confirmed.error().message);
    return grpc::Status::OK;
  }
  response->set_healthy(true);
  return grpc::Status::OK;
}

grpc::Status AdminService::MemberList(grpc::ServerContext*, const api::MemberListRequest*,
                                      api::MemberListResponse* response) {
  fill(*response->mutable_header(), server_.status());
  std::lock_guard lock(members_mutex_);
  for (const api::Member& member : members_) *response->add_members() = member;
  return grpc::Status::OK;
}

grpc::Status AdminService::TransferLeadership(grpc::ServerContext* context,
                                              const api::TransferLeadershipRequest* request,
                                              api::TransferLeadershipResponse* response) {
  if (request->target() == raft::kNoNode) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "the target member id is missing");
  }
  // Mid-election, wait (a little) for the outcome rather than refuse.
  const raft::ServerStatus status = status_with_leader(server_, context->deadline(), options_.leader_wait);
  if (status.role != raft::Role::kLeader) {
    const std::string leader_address = client_address(status.leader);
    if (status.leader == raft::kNoNode || leader_address.empty()) {
      return grpc::Status(
          grpc::StatusCode::UNAVAILABLE,
          "no leader is known to hand leadership over (an election may be under way), retry shortly");
    }
    if (forwarded(context)) {
      return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                          "member " + std::to_string(options_.member_id) + " is not the leader either");
    }
    auto stub = api::Admin::NewStub(grpc::CreateChannel(leader_address, grpc::InsecureChannelCredentials()));
    grpc::ClientContext client;
    client.set_deadline(context->deadline());
    mark_forwarded(client);
    return stub->TransferLeadership(&client, *request, response);
  }
  const raft::Status transferred = server_.transfer_leadership(request->target()).get();
  if (!transferred.ok()) {
    return grpc::Status(transferred.error().code == raft::ErrorCode::kInvalidArgument
                            ? grpc::StatusCode::INVALID_ARGUMENT
                            : grpc::StatusCode::UNAVAILABLE,
                        transferred.error().message);
  }
  fill(*response->mutable_header(), server_.status());
  return grpc::Status::OK;
}

}  // namespace kv

#include "kvstore/admin_service.h"

#include <grpcpp/grpcpp.h>

#include <thread>

#include "kvstore/directory_size.h"
#include "kvstore/leader_routing.h"
#include "raft/snapshot_file.h"

namespace kv {

namespace api = raftkv::api;

AdminService::AdminService(AdminServiceOptions options, raft::Server& server, const Store& store)
    : options_(std::move(options)), server_(server), store_(store) {}

void AdminService::set_members(std::vector<api::Member> members) {
  std::lock_guard lock(members_mutex_);
  members_ = std::move(members);
}

std::optional<api::Member> AdminService::discovered(raft::NodeId member) const {
  std::lock_guard lock(members_mutex_);
  for (const api::Member& known : members_) {
    if (known.id() == member) return known;
  }
  return std::nullopt;
}

namespace {

// Discovery's client address when it has one (DNS may have moved the member
// since the configuration recorded where it was), else `configured`.
std::string preferred_client_address(const std::optional<api::Member>& found, std::string configured) {
  return found && !found->client_address().empty() ? found->client_address() : std::move(configured);
}

}  // namespace

std::string AdminService::client_address(raft::NodeId member) const {
  return preferred_client_address(discovered(member), configured_client_address(server_, member));
}

void AdminService::fill(api::ResponseHeader& header, const raft::ServerStatus& status) const {
  header.set_cluster_id(options_.cluster_id);
  header.set_member_id(options_.member_id);
  header.set_term(status.term);
  header.set_revision(status.applied_index);
}

namespace {

// A snapshot file written straight onto a gRPC stream, a chunk at a time
// (the stream's flow control holds the writer back when the client reads
// slowly, so memory stays at one chunk).
class StreamedSnapshotFile final : public raft::SnapshotFileWriter {
 public:
  static constexpr std::size_t kChunkBytes = 1 << 20;

  explicit StreamedSnapshotFile(grpc::ServerWriter<api::SnapshotChunk>& stream) : stream_(stream) {}

  raft::Status append(std::string_view bytes) override {
    buffer_.append(bytes);
    size_ += bytes.size();
    return buffer_.size() >= kChunkBytes ? flush() : raft::Status{};
  }
  std::uint64_t size() const override { return size_; }
  raft::Status commit() override { return buffer_.empty() ? raft::Status{} : flush(); }

 private:
  raft::Status flush() {
    api::SnapshotChunk chunk;
    chunk.set_data(std::move(buffer_));
    buffer_.clear();
    if (!stream_.Write(chunk)) return raft::Error{raft::ErrorCode::kStopped, "the client stopped reading"};
    return {};
  }

  grpc::ServerWriter<api::SnapshotChunk>& stream_;
  std::string buffer_;
  std::uint64_t size_ = 0;
};

}  // namespace

grpc::Status AdminService::SnapshotSave(grpc::ServerContext* context, const api::SnapshotSaveRequest*,
                                        grpc::ServerWriter<api::SnapshotChunk>* writer) {
  // Every write acknowledged before this call is applied here once the read
  // point is; a view taken after that holds them all.
  std::future<raft::Result<raft::Index>> read_point = server_.read_index();
  const Clock::time_point wait_until = std::min(context->deadline(), Clock::now() + std::chrono::seconds(30));
  if (read_point.wait_until(wait_until) != std::future_status::ready) {
    return grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                        "no linearizable read point in time for the backup");
  }
  const raft::Result<raft::Index> point = read_point.get();
  if (!point.ok()) {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                        "no linearizable read point for the backup: " + point.error().to_string());
  }
  raft::Result<std::unique_ptr<raft::StateMachineView>> view = store_.consistent_view();
  if (!view.ok()) return grpc::Status(grpc::StatusCode::INTERNAL, view.error().to_string());
  raft::pb::SnapshotMetadata header;
  header.set_index(view.value()->index());
  StreamedSnapshotFile file(*writer);
  raft::snapshot_file::Encoder encoder(file, header);
  if (raft::Status written = view.value()->write(encoder); !written.ok()) {
    return grpc::Status(context->IsCancelled() ? grpc::StatusCode::CANCELLED : grpc::StatusCode::INTERNAL,
                        "the backup failed: " + written.error().to_string());
  }
  const raft::Result<raft::pb::SnapshotMetadata> finished = encoder.finish();
  if (!finished.ok()) return grpc::Status(grpc::StatusCode::CANCELLED, finished.error().to_string());
  if (raft::Status flushed = file.commit(); !flushed.ok())
    return grpc::Status(grpc::StatusCode::CANCELLED, flushed.error().to_string());
  return grpc::Status::OK;
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
  response->set_version(RAFTKV_VERSION);
  if (!options_.data_directory.empty()) response->set_data_bytes(directory_bytes(options_.data_directory));
  for (const raft::FollowerStatus& follower : status.followers) {
    api::PeerProgress* peer = response->add_peers();
    peer->set_id(follower.id);
    peer->set_match_index(follower.match_index);
    peer->set_next_index(follower.next_index);
    peer->set_mode(std::string(raft::to_string(follower.mode)));
  }
  if (request->with_state_digest()) {
    // The digest is of the store after its last command; Raft's applied
    // index also counts the no-op and configuration entries after that, so
    // the digest is reported at the Raft index it holds for, as status is.
    // Raft's index is published only once the store has applied everything
    // up to it: read before the digest, it is that index exactly when no
    // command came in between (the digest's own index is not above it).
    // Under steady writes, after a few tries, the store's index is the
    // answer (exact as well, only lower than Raft's).
    Store::Digest digest;
    raft::Index at = 0;
    for (int attempt = 0; attempt < 3; ++attempt) {
      const raft::Index raft_applied = server_.status().applied_index;
      raft::Result<Store::Digest> taken = store_.digest();
      if (!taken.ok()) return grpc::Status(grpc::StatusCode::INTERNAL, taken.error().to_string());
      digest = taken.value();
      at = digest.applied_index;
      if (at <= raft_applied) {
        at = raft_applied;
        break;
      }
    }
    api::StateDigest* state = response->mutable_state();
    state->set_applied_index(at);
    state->set_digest(digest.digest);
    state->set_keys(digest.keys);
  }
  return grpc::Status::OK;
}

grpc::Status AdminService::Health(grpc::ServerContext*, const api::HealthRequest*,
                                  api::HealthResponse* response) {
  const raft::ServerStatus status = server_.status();
  fill(*response->mutable_header(), status);
  if (status.removed) {
    response->set_reason("this member was removed from the cluster");
    return grpc::Status::OK;
  }
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

template <typename Request, typename Response, typename Call, typename Here>
grpc::Status AdminService::on_leader(grpc::ServerContext* context, const Request& request, Response* response,
                                     Call call, Here here, bool may_answer_locally) {
  // Mid-election, wait (a little) for the outcome rather than refuse.
  const raft::ServerStatus status = status_with_leader(server_, context->deadline(), options_.leader_wait);
  if (status.role == raft::Role::kLeader) return here(status);
  const std::string leader_address = client_address(status.leader);
  if (status.leader == raft::kNoNode || leader_address.empty() || forwarded(context)) {
    if (may_answer_locally) return here(status);
    if (forwarded(context)) {
      return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                          "member " + std::to_string(options_.member_id) + " is not the leader either");
    }
    return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                        status.leader == raft::kNoNode
                            ? "no leader is known (an election may be under way), retry shortly"
                            : "the leader is member " + std::to_string(status.leader) +
                                  ", whose client address is not known here; ask it directly");
  }
  auto stub = api::Admin::NewStub(grpc::CreateChannel(
      leader_address, options_.forward_credentials != nullptr ? options_.forward_credentials
                                                              : grpc::InsecureChannelCredentials()));
  grpc::ClientContext client;
  client.set_deadline(context->deadline());
  mark_forwarded(client);
  return ((*stub).*call)(&client, request, response);
}

namespace {

grpc::Status status_of(const raft::Error& error) {
  switch (error.code) {
    case raft::ErrorCode::kInvalidArgument:
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, error.message);
    case raft::ErrorCode::kFailedPrecondition:
      return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, error.message);
    case raft::ErrorCode::kTimeout: return grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, error.message);
    case raft::ErrorCode::kProposalDropped:
      return grpc::Status(grpc::StatusCode::UNAVAILABLE, "a leader change replaced the entry: not applied");
    default: return grpc::Status(grpc::StatusCode::UNAVAILABLE, error.to_string());
  }
}

// A wait that ends by the caller's deadline, and within minutes when the
// caller set none.
std::chrono::system_clock::time_point wait_limit(std::chrono::system_clock::time_point deadline) {
  return std::min(deadline, std::chrono::system_clock::now() + std::chrono::minutes(5));
}

}  // namespace

void AdminService::list_members(const raft::ServerStatus& status,
                                google::protobuf::RepeatedPtrField<api::Member>& members) const {
  if (status.configuration == nullptr) return;
  std::map<raft::NodeId, raft::Index> match;
  for (const raft::FollowerStatus& follower : status.followers) match[follower.id] = follower.match_index;
  if (status.role == raft::Role::kLeader) match[status.id] = status.last_log_index;
  for (const auto* list : {&status.configuration->voters(), &status.configuration->learners()}) {
    for (const raft::pb::Member& known : *list) {
      api::Member* member = members.Add();
      member->set_id(known.id());
      // Discovery's addresses when it has them (DNS may have moved the
      // member since the configuration recorded where it was), else the
      // ones the member was added with.
      const std::optional<api::Member> found = discovered(known.id());
      member->set_peer_address(found && !found->peer_address().empty() ? found->peer_address()
                                                                       : known.address());
      member->set_client_address(preferred_client_address(found, known.client_address()));
      member->set_learner(list == &status.configuration->learners());
      if (auto matched = match.find(known.id()); matched != match.end())
        member->set_match_index(matched->second);
    }
  }
}

void AdminService::list_members(api::MemberChangeResponse& response) const {
  const raft::ServerStatus status = server_.status();
  fill(*response.mutable_header(), status);
  list_members(status, *response.mutable_members());
}

grpc::Status AdminService::MemberList(grpc::ServerContext* context, const api::MemberListRequest* request,
                                      api::MemberListResponse* response) {
  return on_leader(
      context, *request, response, &api::Admin::Stub::MemberList,
      [&](const raft::ServerStatus& status) {
        fill(*response->mutable_header(), status);
        list_members(status, *response->mutable_members());
        response->set_configuration_index(status.configuration_index);
        response->set_configuration_committed(status.configuration_committed);
        return grpc::Status::OK;
      },
      /*may_answer_locally=*/true);
}

grpc::Status AdminService::TransferLeadership(grpc::ServerContext* context,
                                              const api::TransferLeadershipRequest* request,
                                              api::TransferLeadershipResponse* response) {
  if (request->target() == raft::kNoNode) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "the target member id is missing");
  }
  return on_leader(context, *request, response, &api::Admin::Stub::TransferLeadership,
                   [&](const raft::ServerStatus&) {
                     // Done when the target leads, or failed when it did not
                     // take over within an election timeout.
                     std::future<raft::Status> transfer = server_.transfer_leadership(request->target());
                     if (transfer.wait_until(wait_limit(context->deadline())) != std::future_status::ready) {
                       return grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                                           "member " + std::to_string(request->target()) +
                                               " had not taken over by the deadline; it may still");
                     }
                     const raft::Status transferred = transfer.get();
                     if (!transferred.ok()) return status_of(transferred.error());
                     fill(*response->mutable_header(), server_.status());
                     return grpc::Status::OK;
                   });
}

grpc::Status AdminService::change(const raft::MembershipChange& change, Clock::time_point deadline) {
  std::future<raft::Result<raft::Applied>> applied = server_.change_membership(change);
  if (applied.wait_until(wait_limit(deadline)) != std::future_status::ready) {
    return grpc::Status(
        grpc::StatusCode::DEADLINE_EXCEEDED,
        "the change (" + std::string(raft::to_string(change.kind)) + " member " +
            std::to_string(change.node) +
            ") is in the log but did not commit by the deadline; it may still: see the member "
            "list");
  }
  const raft::Result<raft::Applied> result = applied.get();
  return result.ok() ? grpc::Status::OK : status_of(result.error());
}

grpc::Status AdminService::MemberAdd(grpc::ServerContext* context, const api::MemberAddRequest* request,
                                     api::MemberChangeResponse* response) {
  if (request->id() == raft::kNoNode) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "the new member's id is missing");
  }
  if (request->peer_address().empty()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "the new member's peer address is missing");
  }
  return on_leader(context, *request, response, &api::Admin::Stub::MemberAdd, [&](const raft::ServerStatus&) {
    const raft::MembershipChange add{raft::MembershipChangeKind::kAddLearner, request->id(),
                                     request->peer_address(), request->client_address()};
    if (grpc::Status added = change(add, context->deadline()); !added.ok()) return added;
    if (!request->learner()) {
      // A voter joins as a learner first and is promoted once it has
      // caught up (§4.2.1), so that the cluster never waits for it; until
      // then promotion is refused as not caught up, and tried again.
      const raft::MembershipChange promote{raft::MembershipChangeKind::kPromote, request->id(), "", ""};
      while (true) {
        grpc::Status promoted = change(promote, context->deadline());
        if (promoted.ok()) break;
        const bool retry = promoted.error_code() == grpc::StatusCode::FAILED_PRECONDITION &&
                           Clock::now() + std::chrono::milliseconds(100) < context->deadline();
        if (!retry) {
          return grpc::Status(promoted.error_code(),
                              "member " + std::to_string(request->id()) +
                                  " was added as a learner but not promoted: " + promoted.error_message() +
                                  " (promote it with MemberPromote once it has caught up)");
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    }
    list_members(*response);
    return grpc::Status::OK;
  });
}

grpc::Status AdminService::MemberPromote(grpc::ServerContext* context,
                                         const api::MemberPromoteRequest* request,
                                         api::MemberChangeResponse* response) {
  return change_on_leader(
      context, *request, response, &api::Admin::Stub::MemberPromote,
      raft::MembershipChange{raft::MembershipChangeKind::kPromote, request->id(), "", ""});
}

grpc::Status AdminService::MemberRemove(grpc::ServerContext* context, const api::MemberRemoveRequest* request,
                                        api::MemberChangeResponse* response) {
  return change_on_leader(context, *request, response, &api::Admin::Stub::MemberRemove,
                          raft::MembershipChange{raft::MembershipChangeKind::kRemove, request->id(), "", ""});
}

template <typename Request, typename Call>
grpc::Status AdminService::change_on_leader(grpc::ServerContext* context, const Request& request,
                                            api::MemberChangeResponse* response, Call call,
                                            const raft::MembershipChange& membership_change) {
  if (membership_change.node == raft::kNoNode) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "the member id is missing");
  }
  return on_leader(context, request, response, call, [&](const raft::ServerStatus&) {
    if (grpc::Status changed = change(membership_change, context->deadline()); !changed.ok()) return changed;
    list_members(*response);
    return grpc::Status::OK;
  });
}

}  // namespace kv

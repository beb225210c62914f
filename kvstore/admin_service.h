#pragma once
// The Admin gRPC service (proto/kv.proto) of one member: status, health,
// the member list, membership changes (dissertation chapter 4) and
// leadership transfer (§3.10). What only the leader can do, a follower
// passes to the leader.

#include <grpcpp/security/credentials.h>

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "kvstore/store.h"
#include "proto/kv.grpc.pb.h"
#include "raft/server.h"

namespace kv {

struct AdminServiceOptions {
  std::uint64_t cluster_id = 0;
  raft::NodeId member_id = raft::kNoNode;
  std::string data_directory;  // measured for StatusResponse.data_bytes
  // How long a leadership transfer that arrives mid-election waits for a
  // leader (see KvServiceOptions::leader_wait).
  std::chrono::milliseconds leader_wait{1000};
  // See KvServiceOptions::forward_credentials.
  std::shared_ptr<grpc::ChannelCredentials> forward_credentials;
};

class AdminService final : public raftkv::api::Admin::Service {
 public:
  // `store` is digested on request (StatusRequest.with_state_digest).
  AdminService(AdminServiceOptions options, raft::Server& server, const Store& store);

  // Every member's addresses, as discovery knows them.
  void set_members(std::vector<raftkv::api::Member> members);

  grpc::Status Status(grpc::ServerContext* context, const raftkv::api::StatusRequest* request,
                      raftkv::api::StatusResponse* response) override;
  grpc::Status Health(grpc::ServerContext* context, const raftkv::api::HealthRequest* request,
                      raftkv::api::HealthResponse* response) override;
  grpc::Status MemberList(grpc::ServerContext* context, const raftkv::api::MemberListRequest* request,
                          raftkv::api::MemberListResponse* response) override;
  grpc::Status TransferLeadership(grpc::ServerContext* context,
                                  const raftkv::api::TransferLeadershipRequest* request,
                                  raftkv::api::TransferLeadershipResponse* response) override;
  grpc::Status MemberAdd(grpc::ServerContext* context, const raftkv::api::MemberAddRequest* request,
                         raftkv::api::MemberChangeResponse* response) override;
  grpc::Status MemberPromote(grpc::ServerContext* context, const raftkv::api::MemberPromoteRequest* request,
                             raftkv::api::MemberChangeResponse* response) override;
  grpc::Status MemberRemove(grpc::ServerContext* context, const raftkv::api::MemberRemoveRequest* request,
                            raftkv::api::MemberChangeResponse* response) override;
  // A backup from this member (any member: it first gets a linearizable
  // read point, so it holds every write acknowledged before the call).
  grpc::Status SnapshotSave(grpc::ServerContext* context, const raftkv::api::SnapshotSaveRequest* request,
                            grpc::ServerWriter<raftkv::api::SnapshotChunk>* writer) override;

 private:
  using Clock = std::chrono::system_clock;
  // Runs `here` on the leader: at once when this member leads, otherwise by
  // passing the request to the leader with `call` (once: a passed request
  // is never passed on again). `here` with `may_answer_locally` also runs
  // when no leader is known.
  template <typename Request, typename Response, typename Call, typename Here>
  grpc::Status on_leader(grpc::ServerContext* context, const Request& request, Response* response, Call call,
                         Here here, bool may_answer_locally = false);
  // Proposes `change` and waits for it to apply, until `deadline`.
  grpc::Status change(const raft::MembershipChange& change, Clock::time_point deadline);
  // on_leader() with change(), answering with the members after it.
  template <typename Request, typename Call>
  grpc::Status change_on_leader(grpc::ServerContext* context, const Request& request,
                                raftkv::api::MemberChangeResponse* response, Call call,
                                const raft::MembershipChange& membership_change);
  void list_members(raftkv::api::MemberChangeResponse& response) const;
  void fill(raftkv::api::ResponseHeader& header, const raft::ServerStatus& status) const;
  void list_members(const raft::ServerStatus& status,
                    google::protobuf::RepeatedPtrField<raftkv::api::Member>& members) const;
  // Where `member` serves clients: discovery's address when it lists the
  // member, else the one it was added with.
  std::string client_address(raft::NodeId member) const;
  std::optional<raftkv::api::Member> discovered(raft::NodeId member) const;

  const AdminServiceOptions options_;
  raft::Server& server_;
  const Store& store_;
  mutable std::mutex members_mutex_;
  std::vector<raftkv::api::Member> members_;
};

}  // namespace kv

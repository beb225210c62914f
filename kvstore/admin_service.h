#pragma once
// The Admin gRPC service (proto/kv.proto) of one member: status, health,
// the member list and leadership transfer (dissertation §3.10).

#include <chrono>
#include <map>
#include <mutex>
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

 private:
  void fill(raftkv::api::ResponseHeader& header, const raft::ServerStatus& status) const;
  std::string client_address(raft::NodeId member) const;

  const AdminServiceOptions options_;
  raft::Server& server_;
  const Store& store_;
  mutable std::mutex members_mutex_;
  std::vector<raftkv::api::Member> members_;
};

}  // namespace kv

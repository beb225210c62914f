#pragma once
// A test fixture: a cluster of real raftkvd processes on loopback ports,
// each killed by PID when the test ends, however it ends. RAFTKVD names the
// binary (a compile definition).

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include "kvstore/api_metadata.h"
#include "proto/kv.grpc.pb.h"
#include "tests/integration/child_process.h"
#include "tests/integration/free_port.h"
#include "tests/integration/read_file.h"
#include "tests/unit/eventually.h"
#include "tests/unit/temporary_directory.h"

namespace raftkv {

// A cluster of real raftkvd processes on loopback ports.
class ProcessCluster : public ::testing::Test {
 protected:
  void start_cluster(int size, const std::string& extra_flags = "") {
    configure_cluster(size, extra_flags);
    for (int id = 1; id <= size; ++id) start(id);
  }
  // Each member's addresses and flags, without starting any.
  void configure_cluster(int size, const std::string& extra_flags = "") {
    std::string peers, clients;
    for (int id = 1; id <= size; ++id) {
      peer_[id] = "127.0.0.1:" + std::to_string(raft::testing::free_port());
      client_[id] = "127.0.0.1:" + std::to_string(raft::testing::free_port());
      peers += (id > 1 ? "," : "") + std::to_string(id) + "=" + peer_[id];
      clients += (id > 1 ? "," : "") + std::to_string(id) + "=" + client_[id];
    }
    for (int id = 1; id <= size; ++id) {
      arguments_[id] = "--id " + std::to_string(id) + " --cluster-id 9 --data-dir " +
                       scratch_.sub(data_directory_prefix_ + std::to_string(id)) + " --listen-peer " +
                       peer_[id] + " --listen-client " + client_[id] + " --peers " + peers + " --clients " +
                       clients + " --tick-ms 20 " + extra_flags +
                       (member_flags_ ? " " + member_flags_(id) : "");
    }
  }
  // (Re)starts a member; its log is appended to.
  void start(int id) {
    processes_[id] = std::make_unique<raft::testing::ChildProcess>(std::vector<std::string>{
        "/bin/sh", "-c", "exec " + std::string(RAFTKVD) + " " + arguments_[id] + " >>" + log(id) + " 2>&1"});
  }

  std::string log(int id) const { return scratch_.sub("raftkvd-" + std::to_string(id) + ".log"); }

  // For a failure's message: which started members have exited, and the
  // end of every member's log.
  std::string cluster_state() {
    std::string state;
    for (auto& [id, process] : processes_) {
      if (!process) continue;
      if (const std::optional<int> status = process->wait_exit(std::chrono::milliseconds(0))) {
        state += "member " + std::to_string(id) + " exited with status " + std::to_string(*status) + "\n";
      }
    }
    for (const auto& [id, process] : processes_) {
      const std::string text = raft::testing::read_file(log(id));
      state += "--- the end of member " + std::to_string(id) + "'s log:\n" +
               text.substr(text.size() > 2000 ? text.size() - 2000 : 0);
    }
    return state;
  }

  std::unique_ptr<raftkv::api::KV::Stub> kv(int id) {
    return raftkv::api::KV::NewStub(grpc::CreateChannel(client_[id], client_credentials_));
  }
  std::unique_ptr<raftkv::api::Admin::Stub> admin(int id) {
    return raftkv::api::Admin::NewStub(grpc::CreateChannel(client_[id], client_credentials_));
  }

  // Member `id`'s status, or nothing when it does not answer in `timeout`.
  std::optional<raftkv::api::StatusResponse> status_of(
      int id, std::chrono::milliseconds timeout = std::chrono::seconds(1)) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + timeout);
    raftkv::api::StatusResponse status;
    if (!admin(id)->Status(&context, raftkv::api::StatusRequest(), &status).ok()) return std::nullopt;
    return status;
  }

  // The member every running member agrees leads, or 0. Every one must
  // answer: a member that is still starting (or never started) does not
  // count as agreeing, so that requests sent through it afterwards do not
  // fail for that reason.
  std::uint64_t leader(const std::set<int>& running,
                       std::chrono::seconds timeout = std::chrono::seconds(20)) {
    std::uint64_t agreed = 0;
    raft::testing::eventually(
        [&] {
          std::set<std::uint64_t> seen;
          for (int id : running) {
            const std::optional<raftkv::api::StatusResponse> status = status_of(id);
            if (!status) return false;
            seen.insert(status->leader());
          }
          agreed = seen.size() == 1 ? *seen.begin() : 0;
          return agreed != 0;
        },
        timeout);
    return agreed;
  }

  // `not_applied`, when given, says whether the answer carried the trailer
  // of a write that certainly did not apply (docs/api.md).
  grpc::Status put(int via, const std::string& key, const std::string& value, bool* not_applied = nullptr) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    raftkv::api::PutRequest request;
    request.set_key(key);
    request.set_value(value);
    raftkv::api::PutResponse response;
    const grpc::Status status = kv(via)->Put(&context, request, &response);
    if (not_applied != nullptr) {
      *not_applied = status.error_code() == grpc::StatusCode::UNAVAILABLE &&
                     context.GetServerTrailingMetadata().count(kv::kNotAppliedTrailer) > 0;
    }
    return status;
  }

  // As a client following docs/api.md writes: a write refused as certainly
  // not applied (a member that still names a leader just killed, say) is
  // sent again, through the same member, for up to `patience`.
  grpc::Status put_retrying_refusals(int via, const std::string& key, const std::string& value,
                                     std::chrono::milliseconds patience = std::chrono::seconds(5)) {
    const auto give_up = std::chrono::steady_clock::now() + patience;
    for (;;) {
      bool not_applied = false;
      const grpc::Status status = put(via, key, value, &not_applied);
      if (!not_applied || std::chrono::steady_clock::now() >= give_up) return status;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  std::string get(int via, const std::string& key) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    raftkv::api::RangeRequest request;
    request.set_key(key);
    raftkv::api::RangeResponse response;
    const grpc::Status status = kv(via)->Range(&context, request, &response);
    if (!status.ok()) return "error: " + status.error_message();
    return response.kvs_size() == 1 ? response.kvs(0).value() : "(none)";
  }

  raft::testing::TemporaryDirectory scratch_;
  // Member i keeps its data in scratch_/<prefix>i: change it to start a
  // second cluster next to (or after) the first.
  std::string data_directory_prefix_ = "node-";
  // Flags for one member only (its own certificate, say).
  std::function<std::string(int id)> member_flags_;
  // How kv() and admin() connect.
  std::shared_ptr<grpc::ChannelCredentials> client_credentials_ = grpc::InsecureChannelCredentials();
  std::map<int, std::string> peer_, client_, arguments_;
  std::map<int, std::unique_ptr<raft::testing::ChildProcess>> processes_;
};

}  // namespace raftkv

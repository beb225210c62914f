// The standard gRPC services raftkvd offers on its client endpoint, called
// as standard tools call them: health checking (grpc.health.v1, SERVING
// only with a leader known and the log caught up; NOT_SERVING on shutdown)
// and server reflection (the services listed, their descriptors fetched).

#include <google/protobuf/descriptor.pb.h>
#include <gtest/gtest.h>

#include "daemon/health_reporter.h"
#include "proto/grpc_health_client.grpc.pb.h"
#include "proto/grpc_reflection_client.grpc.pb.h"
#include "tests/integration/process_cluster.h"
#include "tests/integration/read_file.h"

namespace raftkv {
namespace {

using namespace std::chrono_literals;
using grpc::health::v1::HealthCheckResponse;
using raft::testing::eventually;
using raft::testing::read_file;

// ------------------------------------------------- when a member serves --

raft::ServerStatus serving_status() {
  raft::ServerStatus status;
  status.running = true;
  status.leader = 2;
  status.commit_index = 900;
  status.applied_index = 900;
  status.cluster_commit_index = 1000;
  return status;
}

TEST(HealthRule, AMemberThatKnowsALeaderAndIsCaughtUpServes) {
  EXPECT_EQ(not_serving_reason(serving_status(), 100), std::nullopt);
}

TEST(HealthRule, NoLeaderRemovalOrALongWayToCatchUpIsNotServing) {
  raft::ServerStatus status = serving_status();
  status.leader = raft::kNoNode;
  EXPECT_EQ(not_serving_reason(status, 100), "no leader known");
  status = serving_status();
  status.removed = true;
  EXPECT_EQ(not_serving_reason(status, 100), "removed from the cluster");
  status = serving_status();
  status.applied_index = 899;
  EXPECT_EQ(not_serving_reason(status, 100), "catching up: applied 899 of 1000 committed entries");
  status = serving_status();
  status.running = false;
  EXPECT_EQ(not_serving_reason(status, 100), "not running");
}

// ---------------------------------------------------- against raftkvd --

class StandardServices : public ProcessCluster {
 protected:
  std::unique_ptr<grpc::health::v1::Health::Stub> health(int id) {
    return grpc::health::v1::Health::NewStub(grpc::CreateChannel(client_[id], client_credentials_));
  }

  // The status Check answers for `service`, or UNKNOWN with the error in `error`.
  HealthCheckResponse::ServingStatus check(int id, const std::string& service,
                                           grpc::Status* error = nullptr) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 1s);
    grpc::health::v1::HealthCheckRequest request;
    request.set_service(service);
    HealthCheckResponse response;
    const grpc::Status status = health(id)->Check(&context, request, &response);
    if (error != nullptr) *error = status;
    return status.ok() ? response.status() : HealthCheckResponse::UNKNOWN;
  }

  bool eventually_all(const std::set<int>& members, const std::string& service,
                      HealthCheckResponse::ServingStatus expected) {
    return eventually(
        [&] {
          for (int id : members)
            if (check(id, service) != expected) return false;
          return true;
        },
        20s);
  }
};

TEST_F(StandardServices, HealthIsServingOnlyWhileAMemberKnowsALeader) {
  start_cluster(3);
  const std::set<int> all = {1, 2, 3};
  ASSERT_TRUE(eventually_all(all, "", HealthCheckResponse::SERVING)) << read_file(log(1));
  EXPECT_EQ(check(1, "raftkv.api.KV"), HealthCheckResponse::SERVING);
  EXPECT_EQ(check(1, "raftkv.api.Admin"), HealthCheckResponse::SERVING);
  grpc::Status error;
  EXPECT_EQ(check(1, "no.such.Service", &error), HealthCheckResponse::UNKNOWN);
  EXPECT_EQ(error.error_code(), grpc::StatusCode::NOT_FOUND);

  // Alone, member 1 soon knows no leader (a follower's leader is silent; a
  // leader hearing from no majority steps down): not serving clients, but
  // its Admin service still answers.
  processes_[2].reset();
  processes_[3].reset();
  ASSERT_TRUE(eventually_all({1}, "", HealthCheckResponse::NOT_SERVING));
  EXPECT_EQ(check(1, "raftkv.api.KV"), HealthCheckResponse::NOT_SERVING);
  EXPECT_EQ(check(1, "raftkv.api.Admin"), HealthCheckResponse::SERVING);
  EXPECT_NE(read_file(log(1)).find("health: NOT_SERVING, no leader known"), std::string::npos)
      << read_file(log(1));

  start(2);
  start(3);
  ASSERT_TRUE(eventually_all(all, "", HealthCheckResponse::SERVING));

  // Stopping, a member says NOT_SERVING to its watchers before it goes.
  grpc::ClientContext context;
  grpc::health::v1::HealthCheckRequest request;
  auto watch = health(1)->Watch(&context, request);
  HealthCheckResponse seen;
  ASSERT_TRUE(watch->Read(&seen));
  EXPECT_EQ(seen.status(), HealthCheckResponse::SERVING);
  processes_[1]->send_signal(SIGTERM);
  ASSERT_TRUE(watch->Read(&seen)) << "the stream ended without a word";
  EXPECT_EQ(seen.status(), HealthCheckResponse::NOT_SERVING);
  context.TryCancel();
  EXPECT_EQ(processes_[1]->wait_exit(15s), 0);
}

TEST_F(StandardServices, ReflectionListsTheServicesAndDescribesThem) {
  start_cluster(1);
  ASSERT_NE(leader({1}), 0u) << read_file(log(1));
  auto stub = grpc::reflection::v1alpha::ServerReflection::NewStub(
      grpc::CreateChannel(client_[1], client_credentials_));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + 10s);
  auto stream = stub->ServerReflectionInfo(&context);

  grpc::reflection::v1alpha::ServerReflectionRequest request;
  request.set_list_services("");
  ASSERT_TRUE(stream->Write(request));
  grpc::reflection::v1alpha::ServerReflectionResponse response;
  ASSERT_TRUE(stream->Read(&response));
  std::set<std::string> services;
  for (const auto& service : response.list_services_response().service()) services.insert(service.name());
  for (const char* expected : {"raftkv.api.KV", "raftkv.api.Admin", "grpc.health.v1.Health",
                               "grpc.reflection.v1alpha.ServerReflection"}) {
    EXPECT_TRUE(services.contains(expected)) << expected;
  }

  // What a tool needs to call a method it was never compiled with.
  request.set_file_containing_symbol("raftkv.api.KV");
  ASSERT_TRUE(stream->Write(request));
  ASSERT_TRUE(stream->Read(&response));
  ASSERT_GT(response.file_descriptor_response().file_descriptor_proto_size(), 0)
      << response.error_response().error_message();
  google::protobuf::FileDescriptorProto file;
  ASSERT_TRUE(file.ParseFromString(response.file_descriptor_response().file_descriptor_proto(0)));
  EXPECT_EQ(file.package(), "raftkv.api");
  std::set<std::string> methods;
  for (const auto& service : file.service())
    if (service.name() == "KV")
      for (const auto& method : service.method()) methods.insert(method.name());
  for (const char* expected : {"Range", "Put", "Delete", "Txn"})
    EXPECT_TRUE(methods.contains(expected)) << expected;

  request.set_file_containing_symbol("raftkv.api.NoSuchThing");
  ASSERT_TRUE(stream->Write(request));
  ASSERT_TRUE(stream->Read(&response));
  EXPECT_EQ(response.error_response().error_code(), static_cast<int>(grpc::StatusCode::NOT_FOUND));
  stream->WritesDone();
  EXPECT_TRUE(stream->Finish().ok());
}

}  // namespace
}  // namespace raftkv

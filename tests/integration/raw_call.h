#pragma once
// A unary gRPC call made of raw bytes, to any method of any server: for
// tests that send what no generated stub would (bytes that are no message,
// a method nobody serves, one service's request to another's port).

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <future>
#include <string>

namespace raft::testing {

inline grpc::Status raw_call(const std::string& address, const std::string& method, const std::string& bytes,
                             std::chrono::seconds timeout = std::chrono::seconds(10)) {
  grpc::GenericStub stub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + timeout);
  grpc::Slice slice(bytes);
  grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer response;
  std::promise<grpc::Status> done;
  stub.UnaryCall(&context, method, grpc::StubOptions(), &request, &response,
                 [&done](grpc::Status status) { done.set_value(std::move(status)); });
  return done.get_future().get();
}

}  // namespace raft::testing

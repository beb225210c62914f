#pragma once
// Counts every call a gRPC server answers, by method and status code, with
// a server interceptor, so that the metrics show what clients asked and
// what they got -- including calls refused before a service saw them
// (deadline exceeded, message too large, unknown method -- counted as
// method "unknown", whatever name the client asked for).

#include <grpcpp/support/server_interceptor.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace raftkv {

class GrpcRequestCounter {
 public:
  void count(const std::string& method, grpc::StatusCode code);

  struct Sample {
    std::string method;  // "/raftkv.api.KV/Put"
    grpc::StatusCode code;
    std::uint64_t count;
  };
  std::vector<Sample> read() const;

  // For ServerBuilder::experimental().SetInterceptorCreators(): counts into
  // `counter`, which must outlive the server.
  static std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> interceptor_factory(
      GrpcRequestCounter& counter);

 private:
  mutable std::mutex mutex_;
  std::map<std::pair<std::string, grpc::StatusCode>, std::uint64_t> counts_;
};

}  // namespace raftkv

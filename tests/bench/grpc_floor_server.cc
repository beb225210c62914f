// The cost of a unary gRPC call on this machine, with nothing behind it: an
// etcd-shaped KV service (proto/etcd_kv.proto) whose Put and Range answer at
// once from gRPC's callback API. `kvctl bench --target etcd` against it
// measures the ceiling any gRPC server with one call per operation can reach
// here, client included -- the yardstick for issue 7's throughput targets
// (docs/performance.md).
//
//   grpc_floor_server --listen 127.0.0.1:24200
#include <grpcpp/grpcpp.h>

#include <csignal>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>

#include "proto/etcd_kv.grpc.pb.h"

namespace {

class ImmediateKv final : public etcdserverpb::KV::CallbackService {
 public:
  grpc::ServerUnaryReactor* Put(grpc::CallbackServerContext* context, const etcdserverpb::PutRequest*,
                                etcdserverpb::PutResponse* response) override {
    response->mutable_header()->set_revision(1);
    auto* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

  grpc::ServerUnaryReactor* Range(grpc::CallbackServerContext* context, const etcdserverpb::RangeRequest*,
                                  etcdserverpb::RangeResponse* response) override {
    response->mutable_header()->set_revision(1);
    auto* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
};

}  // namespace

int main(int argc, char** argv) {
  std::string listen = "127.0.0.1:24200";
  if (argc == 3 && std::string(argv[1]) == "--listen") {
    listen = argv[2];
  } else if (argc != 1) {
    std::cerr << "usage: grpc_floor_server [--listen HOST:PORT]\n";
    return 2;
  }
  ImmediateKv service;
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(listen, grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || port == 0) {
    std::cerr << "grpc_floor_server: cannot listen on " << listen << "\n";
    return 1;
  }
  std::printf("listening on %s\n", listen.c_str());
  std::fflush(stdout);
  server->Wait();
  return 0;
}

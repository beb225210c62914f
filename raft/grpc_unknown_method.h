#pragma once
// Answers a call to a method a gRPC server does not serve. gRPC's own answer
// is UNIMPLEMENTED with an empty message, which tells a client that pointed
// at the wrong port (a member's peer port instead of its client port, say)
// nothing; this one names the method asked for, what the port serves, and
// where to go instead. Register it last, with
// ServerBuilder::RegisterCallbackGenericService: gRPC gives it only the
// calls no registered service takes.

#include <grpcpp/generic/async_generic_service.h>

#include <string>

namespace raft {

class UnknownMethodService final : public grpc::CallbackGenericService {
 public:
  // `served`: what this port serves and what to do instead, completing
  // "<method> is not served here: ..." -- e.g. "this is raftkvd's peer port
  // (Raft between members); clients use a member's client port".
  explicit UnknownMethodService(std::string served) : served_(std::move(served)) {}

  grpc::ServerGenericBidiReactor* CreateReactor(grpc::GenericCallbackServerContext* context) override;

 private:
  const std::string served_;
};

}  // namespace raft

#include "raft/grpc_unknown_method.h"

namespace raft {

namespace {

// Ends the call as soon as gRPC starts it; reads nothing.
class RefusedCall final : public grpc::ServerGenericBidiReactor {
 public:
  explicit RefusedCall(const std::string& message) {
    Finish(grpc::Status(grpc::StatusCode::UNIMPLEMENTED, message));
  }
  void OnDone() override { delete this; }
};

}  // namespace

grpc::ServerGenericBidiReactor* UnknownMethodService::CreateReactor(
    grpc::GenericCallbackServerContext* context) {
  // The method name is the client's: bounded so that a hostile one cannot
  // make the answer large.
  std::string method = context->method().substr(0, 200);
  return new RefusedCall("the method " + method + " is not served here: " + served_);
}

}  // namespace raft

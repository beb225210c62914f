#include "daemon/status_message_interceptor.h"

#include <google/protobuf/descriptor.h>
#include <grpcpp/grpcpp.h>

#include <string>

#include "raft/grpc_status_name.h"

namespace raftkv {

namespace {

// "/raftkv.api.Admin/Status" -> the full name of its request message, or
// "" for a method the generated descriptors do not know.
std::string request_type_of(const std::string& method) {
  if (method.size() < 2 || method[0] != '/') return {};
  std::string dotted = method.substr(1);
  const std::size_t slash = dotted.find('/');
  if (slash == std::string::npos) return {};
  dotted[slash] = '.';
  const google::protobuf::MethodDescriptor* descriptor =
      google::protobuf::DescriptorPool::generated_pool()->FindMethodByName(dotted);
  return descriptor != nullptr ? descriptor->input_type()->full_name() : std::string();
}

class StatusMessageInterceptor final : public grpc::experimental::Interceptor {
 public:
  explicit StatusMessageInterceptor(grpc::experimental::ServerRpcInfo* info)
      : method_(info->method() != nullptr ? info->method() : "") {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(grpc::experimental::InterceptionHookPoints::PRE_SEND_STATUS)) {
      const grpc::Status status = methods->GetSendStatus();
      if (!status.ok() && status.error_message().empty()) methods->ModifySendStatus(explained(status));
    }
    methods->Proceed();
  }

 private:
  grpc::Status explained(const grpc::Status& status) const {
    const std::string method = method_.empty() ? "this method" : method_;
    if (status.error_code() == grpc::StatusCode::INTERNAL) {
      // What gRPC answers when the request bytes do not parse (our own
      // INTERNAL answers all carry a message).
      const std::string type = request_type_of(method_);
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "the request to " + method + " could not be parsed as " +
                              (type.empty() ? std::string("its request message") : "a " + type) +
                              " (is the client built from raftkv's proto/kv.proto?)");
    }
    return grpc::Status(status.error_code(), std::string("gRPC ended the call to ") + method + " with " +
                                                 raft::status_code_name(status.error_code()) +
                                                 " and no detail; this member's log may say more");
  }

  const std::string method_;
};

class StatusMessageFactory final : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  grpc::experimental::Interceptor* CreateServerInterceptor(grpc::experimental::ServerRpcInfo* info) override {
    return new StatusMessageInterceptor(info);  // gRPC owns it
  }
};

}  // namespace

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> status_message_interceptor_factory() {
  return std::make_unique<StatusMessageFactory>();
}

}  // namespace raftkv

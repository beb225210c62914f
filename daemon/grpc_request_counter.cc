#include "daemon/grpc_request_counter.h"

#include <grpcpp/grpcpp.h>

namespace raftkv {

namespace {

class CountingInterceptor final : public grpc::experimental::Interceptor {
 public:
  CountingInterceptor(grpc::experimental::ServerRpcInfo* info, GrpcRequestCounter& counter)
      : method_(info->method() != nullptr ? info->method() : "unknown"), counter_(counter) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(grpc::experimental::InterceptionHookPoints::PRE_SEND_STATUS)) {
      // A method the server does not serve (UNIMPLEMENTED, the only answer
      // raftkvd gives to one) is counted as "unknown": the name is the
      // client's, and each would otherwise make a new series.
      const grpc::StatusCode code = methods->GetSendStatus().error_code();
      counter_.count(code == grpc::StatusCode::UNIMPLEMENTED ? "unknown" : method_, code);
    }
    methods->Proceed();
  }

 private:
  const std::string method_;
  GrpcRequestCounter& counter_;
};

class CountingFactory final : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit CountingFactory(GrpcRequestCounter& counter) : counter_(counter) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(grpc::experimental::ServerRpcInfo* info) override {
    return new CountingInterceptor(info, counter_);  // gRPC owns it
  }

 private:
  GrpcRequestCounter& counter_;
};

}  // namespace

void GrpcRequestCounter::count(const std::string& method, grpc::StatusCode code) {
  std::lock_guard lock(mutex_);
  ++counts_[{method, code}];
}

std::vector<GrpcRequestCounter::Sample> GrpcRequestCounter::read() const {
  std::lock_guard lock(mutex_);
  std::vector<Sample> samples;
  samples.reserve(counts_.size());
  for (const auto& [key, count] : counts_) samples.push_back(Sample{key.first, key.second, count});
  return samples;
}

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
GrpcRequestCounter::interceptor_factory(GrpcRequestCounter& counter) {
  return std::make_unique<CountingFactory>(counter);
}

}  // namespace raftkv

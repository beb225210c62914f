#pragma once
// A server interceptor that makes sure no call ends in an error without a
// message. raftkvd's services give every refusal one, but gRPC answers a
// few calls itself before a service sees them: a request that does not
// parse as the method's message reaches a synchronous method as INTERNAL
// with an empty message (proto3 messages have no "missing field" text).
// Such a status is rewritten here: a request that did not parse becomes
// INVALID_ARGUMENT naming the message the method takes; any other empty
// message gets one naming the method and the code.

#include <grpcpp/support/server_interceptor.h>

#include <memory>

namespace raftkv {

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> status_message_interceptor_factory();

}  // namespace raftkv

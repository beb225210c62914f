#pragma once
// A protobuf message read from, or written to, the raw bytes of a gRPC call:
// for services that take their requests as bytes (gRPC's raw callback
// methods) so that bytes which are no such message can be answered with a
// status of their own, rather than gRPC's empty one or a silent end.

#include <google/protobuf/message_lite.h>
#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/proto_buffer_reader.h>
#include <grpcpp/support/proto_buffer_writer.h>

namespace raft {

// False when `bytes` are not a `message` (which is then left unspecified).
// The reader consumes `bytes`' slices without changing what they hold.
inline bool parse_raw_message(grpc::ByteBuffer& bytes, google::protobuf::MessageLite& message) {
  grpc::ProtoBufferReader reader(&bytes);
  return reader.status().ok() && message.ParseFromZeroCopyStream(&reader);
}

// Writes `message` as the bytes of a raw method's response.
template <typename Message>
void serialize_raw_message(const Message& message, grpc::ByteBuffer* bytes) {
  bool own_buffer = false;
  (void)grpc::GenericSerialize<grpc::ProtoBufferWriter, Message>(message, bytes, &own_buffer);
}

}  // namespace raft

#pragma once
// kvctl's JSON output (-w json): one document per command. A message is
// printed with every field present, defaults included (a script need not
// know which values proto3 leaves out), field names as in the .proto files,
// 64-bit integers as JSON numbers as etcdctl prints them (protobuf's own
// printer makes them strings), bytes in base64 as etcdctl prints keys and
// values, enums by name, and an unset message field as null.

#include <google/protobuf/message.h>

#include <string>
#include <string_view>

namespace kvctl {

std::string to_json(const google::protobuf::Message& message);

// `text` as a JSON string literal, quotes included.
std::string json_string(std::string_view text);

std::string base64(std::string_view bytes);

}  // namespace kvctl

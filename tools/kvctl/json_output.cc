#include "tools/kvctl/json_output.h"

#include <cmath>
#include <cstdio>

namespace kvctl {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

std::string number(double value) {
  if (!std::isfinite(value)) return "null";  // JSON has no NaN or infinity
  char text[32];
  std::snprintf(text, sizeof text, "%.17g", value);
  return text;
}

void append_value(const Message& message, const FieldDescriptor& field, int index, std::string& out);

void append_message(const Message& message, std::string& out) {
  const google::protobuf::Descriptor& descriptor = *message.GetDescriptor();
  out += '{';
  for (int i = 0; i < descriptor.field_count(); ++i) {
    const FieldDescriptor& field = *descriptor.field(i);
    if (i > 0) out += ',';
    out += json_string(field.name());
    out += ':';
    const Reflection& reflection = *message.GetReflection();
    if (field.is_repeated()) {
      out += '[';
      for (int j = 0; j < reflection.FieldSize(message, &field); ++j) {
        if (j > 0) out += ',';
        append_value(message, field, j, out);
      }
      out += ']';
    } else if (field.cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE &&
               !reflection.HasField(message, &field)) {
      out += "null";
    } else {
      append_value(message, field, -1, out);
    }
  }
  out += '}';
}

// One value of `field`: element `index` of a repeated field, or the field
// itself (index -1).
void append_value(const Message& message, const FieldDescriptor& field, int index, std::string& out) {
  const Reflection& reflection = *message.GetReflection();
  const bool repeated = index >= 0;
  switch (field.cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
      out += std::to_string(repeated ? reflection.GetRepeatedInt32(message, &field, index)
                                     : reflection.GetInt32(message, &field));
      return;
    case FieldDescriptor::CPPTYPE_INT64:
      out += std::to_string(repeated ? reflection.GetRepeatedInt64(message, &field, index)
                                     : reflection.GetInt64(message, &field));
      return;
    case FieldDescriptor::CPPTYPE_UINT32:
      out += std::to_string(repeated ? reflection.GetRepeatedUInt32(message, &field, index)
                                     : reflection.GetUInt32(message, &field));
      return;
    case FieldDescriptor::CPPTYPE_UINT64:
      out += std::to_string(repeated ? reflection.GetRepeatedUInt64(message, &field, index)
                                     : reflection.GetUInt64(message, &field));
      return;
    case FieldDescriptor::CPPTYPE_DOUBLE:
      out += number(repeated ? reflection.GetRepeatedDouble(message, &field, index)
                             : reflection.GetDouble(message, &field));
      return;
    case FieldDescriptor::CPPTYPE_FLOAT:
      out += number(repeated ? reflection.GetRepeatedFloat(message, &field, index)
                             : reflection.GetFloat(message, &field));
      return;
    case FieldDescriptor::CPPTYPE_BOOL:
      out += (repeated ? reflection.GetRepeatedBool(message, &field, index)
                       : reflection.GetBool(message, &field))
                 ? "true"
                 : "false";
      return;
    case FieldDescriptor::CPPTYPE_ENUM:
      out += json_string(repeated ? reflection.GetRepeatedEnum(message, &field, index)->name()
                                  : reflection.GetEnum(message, &field)->name());
      return;
    case FieldDescriptor::CPPTYPE_STRING: {
      const std::string value = repeated ? reflection.GetRepeatedString(message, &field, index)
                                         : reflection.GetString(message, &field);
      out += json_string(field.type() == FieldDescriptor::TYPE_BYTES ? base64(value) : value);
      return;
    }
    case FieldDescriptor::CPPTYPE_MESSAGE:
      append_message(repeated ? reflection.GetRepeatedMessage(message, &field, index)
                              : reflection.GetMessage(message, &field),
                     out);
      return;
  }
}

}  // namespace

std::string to_json(const Message& message) {
  std::string out;
  append_message(message, out);
  return out;
}

std::string json_string(std::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char escaped[8];
          std::snprintf(escaped, sizeof escaped, "\\u%04x", static_cast<unsigned>(c));
          out += escaped;
        } else {
          out += c;
        }
    }
  }
  out += '"';
  return out;
}

std::string base64(std::string_view bytes) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const unsigned chunk = static_cast<unsigned char>(bytes[i]) << 16 |
                           static_cast<unsigned char>(bytes[i + 1]) << 8 |
                           static_cast<unsigned char>(bytes[i + 2]);
    out += kAlphabet[chunk >> 18 & 63];
    out += kAlphabet[chunk >> 12 & 63];
    out += kAlphabet[chunk >> 6 & 63];
    out += kAlphabet[chunk & 63];
  }
  if (const std::size_t left = bytes.size() - i; left > 0) {
    unsigned chunk = static_cast<unsigned char>(bytes[i]) << 16;
    if (left == 2) chunk |= static_cast<unsigned char>(bytes[i + 1]) << 8;
    out += kAlphabet[chunk >> 18 & 63];
    out += kAlphabet[chunk >> 12 & 63];
    out += left == 2 ? kAlphabet[chunk >> 6 & 63] : '=';
    out += '=';
  }
  return out;
}

}  // namespace kvctl

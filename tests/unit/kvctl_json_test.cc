// kvctl's JSON printer: every field present, 64-bit integers as numbers,
// bytes in base64, enums by name, unset messages null, strings escaped.

#include <gtest/gtest.h>

#include "proto/kv.pb.h"
#include "tools/kvctl/json_output.h"

namespace kvctl {
namespace {

namespace api = raftkv::api;

TEST(KvctlJson, PrintsEveryFieldWithDefaultsAndUnsetMessagesAsNull) {
  api::PutResponse response;
  EXPECT_EQ(to_json(response), R"({"header":null,"prev_kv":null})");
  response.mutable_header()->set_member_id(3);
  EXPECT_EQ(to_json(response),
            R"({"header":{"cluster_id":0,"member_id":3,"term":0,"revision":0},"prev_kv":null})");
}

TEST(KvctlJson, PrintsSixtyFourBitIntegersAsNumbersBytesInBase64AndEnumsByName) {
  api::Compare compare;
  compare.set_key("foo");
  compare.set_target(api::Compare::MOD_REVISION);
  compare.set_result(api::Compare::LESS);
  compare.set_number(18446744073709551615ULL);
  EXPECT_EQ(
      to_json(compare),
      R"({"key":"Zm9v","target":"MOD_REVISION","result":"LESS","value":"","number":18446744073709551615})");
}

TEST(KvctlJson, PrintsRepeatedFieldsAsArrays) {
  api::RangeResponse response;
  EXPECT_NE(to_json(response).find(R"("kvs":[],"more":false,"count":0)"), std::string::npos)
      << to_json(response);
  response.add_kvs()->set_key("a");
  response.add_kvs()->set_key("b");
  const std::string json = to_json(response);
  EXPECT_NE(json.find(R"("kvs":[{"key":"YQ==",)"), std::string::npos) << json;
  EXPECT_NE(json.find(R"(},{"key":"Yg==",)"), std::string::npos) << json;
}

TEST(KvctlJson, Base64FollowsRfc4648) {
  EXPECT_EQ(base64(""), "");
  EXPECT_EQ(base64("f"), "Zg==");
  EXPECT_EQ(base64("fo"), "Zm8=");
  EXPECT_EQ(base64("foo"), "Zm9v");
  EXPECT_EQ(base64("foob"), "Zm9vYg==");
  EXPECT_EQ(base64("fooba"), "Zm9vYmE=");
  EXPECT_EQ(base64("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64(std::string("\0\xff\xfe", 3)), "AP/+");
}

TEST(KvctlJson, StringsEscapeQuotesBackslashesAndControlCharacters) {
  EXPECT_EQ(json_string("plain"), R"("plain")");
  EXPECT_EQ(json_string("say \"hi\"\\"), R"("say \"hi\"\\")");
  EXPECT_EQ(json_string("a\nb\tc\rd"), R"("a\nb\tc\rd")");
  EXPECT_EQ(json_string(std::string("\x01\0", 2)), R"("\u0001\u0000")");
}

}  // namespace
}  // namespace kvctl

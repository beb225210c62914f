#pragma once
// Included by each fuzz target (one translation unit per target): protobuf
// logs every string field with invalid UTF-8 it parses, and garbage is the
// point here, so the targets silence it before the first input.

#include <google/protobuf/stubs/logging.h>

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

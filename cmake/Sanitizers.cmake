# Sanitizer "twins": the unit, server and simulation tests are also built with
# AddressSanitizer+UndefinedBehaviorSanitizer (and the threaded server tests
# with ThreadSanitizer) inside the same build tree, so one ctest run covers
# every configuration and ends with one summary line.
#
# raftkv_sanitized_library(<name> <kind> SOURCES ... LINK ...) and
# raftkv_sanitized_executable(...) create <name>_<kind> with the flags below;
# the flags are PUBLIC so everything linking the library is instrumented too.

option(RAFTKV_SANITIZER_TWINS "Also build ASan/UBSan and TSan variants of the tests" ON)

set(RAFTKV_SANITIZE_asan -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
set(RAFTKV_SANITIZE_tsan -fsanitize=thread -fno-omit-frame-pointer)

function(raftkv_sanitize target kind)
  target_compile_options(${target} PUBLIC ${RAFTKV_SANITIZE_${kind}} -O1 -g)
  target_link_options(${target} PUBLIC ${RAFTKV_SANITIZE_${kind}})
endfunction()

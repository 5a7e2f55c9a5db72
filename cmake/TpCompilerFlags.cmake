# Warning and sanitizer flags shared by every target of the project.

function(tp_apply_warnings target)
    target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow
        -Wstrict-prototypes -Wmissing-prototypes -Wcast-align -Wvla -Wformat=2)
    if(CMAKE_C_COMPILER_ID STREQUAL "GNU")
        # Error and log messages are truncated on purpose when they do not fit.
        target_compile_options(${target} PRIVATE -Wno-format-truncation)
    endif()
    if(TP_WERROR)
        target_compile_options(${target} PRIVATE -Werror)
    endif()
endfunction()

# Sanitizers apply to everything (library, tools, tests), so set them globally.
if(TP_SANITIZE STREQUAL "address")
    add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all)
    add_link_options(-fsanitize=address,undefined)
    add_compile_definitions(TP_SANITIZE_ADDRESS=1)
elseif(TP_SANITIZE STREQUAL "thread")
    add_compile_options(-fsanitize=thread -fno-omit-frame-pointer)
    if(CMAKE_C_COMPILER_ID STREQUAL "GNU")
        # TSan does not model stand-alone atomic_thread_fence (GCC says so with
        # -Wtsan). The seqlock and the IPC log rely on fences by design; under
        # TSan they are simply not instrumented, the atomics around them are.
        add_compile_options(-Wno-tsan)
    endif()
    add_link_options(-fsanitize=thread)
    add_compile_definitions(TP_SANITIZE_THREAD=1)
elseif(NOT TP_SANITIZE STREQUAL "")
    message(FATAL_ERROR "TP_SANITIZE must be '', 'address' or 'thread' (got '${TP_SANITIZE}')")
endif()

# libFuzzer targets (tests/fuzz): clang only. Everything, the library included,
# is built with ASan+UBSan and the fuzzer's coverage instrumentation
# (fuzzer-no-link); only the fuzz executables link libFuzzer's main.
if(TP_FUZZ)
    if(NOT CMAKE_C_COMPILER_ID STREQUAL "Clang")
        message(FATAL_ERROR "TP_FUZZ=ON needs clang (libFuzzer); the C compiler is "
            "${CMAKE_C_COMPILER_ID} (${CMAKE_C_COMPILER}). Configure with CC=clang.")
    endif()
    if(NOT TP_SANITIZE STREQUAL "")
        message(FATAL_ERROR "TP_FUZZ=ON already builds with ASan+UBSan; leave TP_SANITIZE empty "
            "(got '${TP_SANITIZE}')")
    endif()
    include(CheckCSourceCompiles)
    set(CMAKE_REQUIRED_FLAGS "-fsanitize=fuzzer,address,undefined")
    set(CMAKE_REQUIRED_LINK_OPTIONS "-fsanitize=fuzzer,address,undefined")
    check_c_source_compiles([=[
#include <stddef.h>
#include <stdint.h>
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return (int)(data == NULL) + (int)(size & 0u); }
]=] TP_HAVE_LIBFUZZER)
    unset(CMAKE_REQUIRED_FLAGS)
    unset(CMAKE_REQUIRED_LINK_OPTIONS)
    if(NOT TP_HAVE_LIBFUZZER)
        message(FATAL_ERROR "TP_FUZZ=ON: ${CMAKE_C_COMPILER} cannot link -fsanitize=fuzzer,address,undefined. "
            "On Debian install the compiler runtime (e.g. apt-get install libclang-rt-14-dev for clang 14).")
    endif()
    add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer
        -fno-sanitize-recover=all)
    add_link_options(-fsanitize=address,undefined)
    add_compile_definitions(TP_SANITIZE_ADDRESS=1 TP_FUZZING=1)
endif()

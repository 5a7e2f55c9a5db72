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

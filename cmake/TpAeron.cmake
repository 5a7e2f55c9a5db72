# Optional Aeron transport backend: find an installed Aeron C client (and, when
# present, the Aeron C media driver library for the embedded media driver).
#
# Inputs (cache):
#   TP_WITH_AERON  AUTO (default: use Aeron when found), ON (fail when missing), OFF
#   TP_AERON_ROOT  install prefix of Aeron (also read from the environment);
#                  CMAKE_PREFIX_PATH and pkg-config are searched as well
#
# Outputs:
#   TP_HAVE_AERON         TRUE when the aeron backend is built
#   TP_HAVE_AERON_DRIVER  TRUE when the embedded media driver is available
#   tp_aeron              INTERFACE target (exported as tensorpool::tp_aeron):
#                         include directories, link libraries and the
#                         TP_HAVE_AERON / TP_HAVE_AERON_DRIVER definitions
#
# Nothing of Aeron is part of this repository: see docs/AERON.md for how to
# build and install it, then point CMake at the prefix.
#
# Linking: libaeron_driver contains a complete copy of the Aeron C client
# (every aeronc.h function). When the driver library is found it is the only
# Aeron library linked, so a process holds exactly one copy of the client's
# global and thread-local state; otherwise libaeron (the client) is linked
# and only an external media driver can be used.

set(TP_WITH_AERON "AUTO" CACHE STRING "Build the Aeron transport backend: AUTO, ON or OFF")
set_property(CACHE TP_WITH_AERON PROPERTY STRINGS AUTO ON OFF)
set(TP_AERON_ROOT "$ENV{TP_AERON_ROOT}" CACHE PATH "Install prefix of Aeron (with include/aeron and lib/)")

string(TOUPPER "${TP_WITH_AERON}" _tp_with_aeron)
if(NOT _tp_with_aeron MATCHES "^(AUTO|ON|OFF)$")
    message(FATAL_ERROR "TP_WITH_AERON must be AUTO, ON or OFF (got '${TP_WITH_AERON}')")
endif()

set(TP_HAVE_AERON FALSE)
set(TP_HAVE_AERON_DRIVER FALSE)
set(TP_AERON_SOURCE "")
set(_tp_aeron_libs "")
set(_tp_aeron_incs "")

# Resolve an imported target to (absolute library file, include directories).
function(_tp_aeron_resolve target out_lib out_incs)
    set(_loc "")
    foreach(_prop IMPORTED_LOCATION_RELEASE IMPORTED_LOCATION_RELWITHDEBINFO IMPORTED_LOCATION
            IMPORTED_LOCATION_DEBUG IMPORTED_LOCATION_NOCONFIG)
        if(NOT _loc)
            get_target_property(_loc ${target} ${_prop})
        endif()
    endforeach()
    if(NOT _loc)
        set(_loc "")
    endif()
    get_target_property(_incs ${target} INTERFACE_INCLUDE_DIRECTORIES)
    if(NOT _incs)
        set(_incs "")
    endif()
    set(${out_lib} "${_loc}" PARENT_SCOPE)
    set(${out_incs} "${_incs}" PARENT_SCOPE)
endfunction()

if(NOT _tp_with_aeron STREQUAL "OFF")
    # 1. CMake package (aeron-config.cmake) under TP_AERON_ROOT or CMAKE_PREFIX_PATH.
    set(_tp_aeron_hints "")
    if(TP_AERON_ROOT)
        list(APPEND _tp_aeron_hints "${TP_AERON_ROOT}")
    endif()
    find_package(aeron CONFIG QUIET HINTS ${_tp_aeron_hints})
    if(aeron_FOUND AND TARGET aeron::aeron)
        if(TARGET aeron::aeron_driver)
            _tp_aeron_resolve(aeron::aeron_driver _lib _incs)
            if(_lib)
                set(TP_HAVE_AERON_DRIVER TRUE)
            endif()
        endif()
        if(NOT TP_HAVE_AERON_DRIVER)
            _tp_aeron_resolve(aeron::aeron _lib _incs)
        endif()
        if(_lib)
            set(TP_HAVE_AERON TRUE)
            set(TP_AERON_SOURCE "CMake package ${aeron_DIR}")
            list(APPEND _tp_aeron_libs "${_lib}")
            list(APPEND _tp_aeron_incs ${_incs})
        endif()
    endif()

    # 2. pkg-config modules "aeron" (client) and "aeron_driver" (optional).
    if(NOT TP_HAVE_AERON)
        find_package(PkgConfig QUIET)
        if(PKG_CONFIG_FOUND)
            if(TP_AERON_ROOT)
                set(ENV{PKG_CONFIG_PATH}
                    "${TP_AERON_ROOT}/lib/pkgconfig:${TP_AERON_ROOT}/lib64/pkgconfig:$ENV{PKG_CONFIG_PATH}")
            endif()
            pkg_check_modules(TP_AERON_PC QUIET aeron)
            pkg_check_modules(TP_AERONMD_PC QUIET aeron_driver)
            if(TP_AERONMD_PC_FOUND)
                set(TP_HAVE_AERON TRUE)
                set(TP_HAVE_AERON_DRIVER TRUE)
                set(TP_AERON_SOURCE "pkg-config aeron_driver ${TP_AERONMD_PC_VERSION}")
                list(APPEND _tp_aeron_libs ${TP_AERONMD_PC_LINK_LIBRARIES})
                list(APPEND _tp_aeron_incs ${TP_AERONMD_PC_INCLUDE_DIRS} ${TP_AERON_PC_INCLUDE_DIRS})
            elseif(TP_AERON_PC_FOUND)
                set(TP_HAVE_AERON TRUE)
                set(TP_AERON_SOURCE "pkg-config aeron ${TP_AERON_PC_VERSION}")
                list(APPEND _tp_aeron_libs ${TP_AERON_PC_LINK_LIBRARIES})
                list(APPEND _tp_aeron_incs ${TP_AERON_PC_INCLUDE_DIRS})
            endif()
        endif()
    endif()

    # 3. A plain prefix (headers and libraries, no package files) under TP_AERON_ROOT.
    if(NOT TP_HAVE_AERON AND TP_AERON_ROOT)
        find_path(TP_AERON_INCLUDE_DIR aeronc.h
            HINTS "${TP_AERON_ROOT}" PATH_SUFFIXES include/aeron include NO_DEFAULT_PATH)
        find_path(TP_AERONMD_INCLUDE_DIR aeronmd.h
            HINTS "${TP_AERON_ROOT}" PATH_SUFFIXES include/aeronmd include NO_DEFAULT_PATH)
        find_library(TP_AERON_LIBRARY aeron HINTS "${TP_AERON_ROOT}" PATH_SUFFIXES lib lib64 NO_DEFAULT_PATH)
        find_library(TP_AERONMD_LIBRARY aeron_driver HINTS "${TP_AERON_ROOT}" PATH_SUFFIXES lib lib64
            NO_DEFAULT_PATH)
        if(TP_AERON_INCLUDE_DIR AND TP_AERONMD_INCLUDE_DIR AND TP_AERONMD_LIBRARY)
            set(TP_HAVE_AERON TRUE)
            set(TP_HAVE_AERON_DRIVER TRUE)
            set(TP_AERON_SOURCE "prefix ${TP_AERON_ROOT}")
            list(APPEND _tp_aeron_libs "${TP_AERONMD_LIBRARY}")
            list(APPEND _tp_aeron_incs "${TP_AERON_INCLUDE_DIR}" "${TP_AERONMD_INCLUDE_DIR}")
        elseif(TP_AERON_INCLUDE_DIR AND TP_AERON_LIBRARY)
            set(TP_HAVE_AERON TRUE)
            set(TP_AERON_SOURCE "prefix ${TP_AERON_ROOT}")
            list(APPEND _tp_aeron_libs "${TP_AERON_LIBRARY}")
            list(APPEND _tp_aeron_incs "${TP_AERON_INCLUDE_DIR}")
        endif()
    endif()
endif()

if(_tp_with_aeron STREQUAL "ON" AND NOT TP_HAVE_AERON)
    message(FATAL_ERROR
        "TP_WITH_AERON=ON but no Aeron C client was found.\n"
        "Build and install Aeron (see docs/AERON.md), then point CMake at its install prefix with\n"
        "  -DTP_AERON_ROOT=/path/to/aeron-install   (or the TP_AERON_ROOT environment variable)\n"
        "  or -DCMAKE_PREFIX_PATH=/path/to/aeron-install (the prefix holding lib/cmake/aeron/aeron-config.cmake)\n"
        "  or a pkg-config module 'aeron' on PKG_CONFIG_PATH.\n"
        "Use -DTP_WITH_AERON=AUTO to build without the Aeron backend when it is missing.")
endif()

add_library(tp_aeron INTERFACE)
if(TP_HAVE_AERON)
    list(REMOVE_DUPLICATES _tp_aeron_incs)
    # Aeron's headers are third-party code: include them as system headers so
    # that our warning flags (-Wpedantic, -Wcast-align, ...) do not apply to them.
    target_include_directories(tp_aeron SYSTEM INTERFACE "$<BUILD_INTERFACE:${_tp_aeron_incs}>")
    target_link_libraries(tp_aeron INTERFACE ${_tp_aeron_libs})
    target_compile_definitions(tp_aeron INTERFACE $<BUILD_INTERFACE:TP_HAVE_AERON=1>)
    if(TP_HAVE_AERON_DRIVER)
        target_compile_definitions(tp_aeron INTERFACE $<BUILD_INTERFACE:TP_HAVE_AERON_DRIVER=1>)
    endif()
    set(TP_AERON_LINK_LIBRARIES "${_tp_aeron_libs}")
    message(STATUS "Aeron backend: ON (${TP_AERON_SOURCE}; embedded media driver: ${TP_HAVE_AERON_DRIVER})")
else()
    set(TP_AERON_LINK_LIBRARIES "")
    message(STATUS "Aeron backend: OFF (TP_WITH_AERON=${TP_WITH_AERON})")
endif()

# Flags for the pkg-config file (Libs.private) of a build with Aeron.
set(TP_AERON_PC_LIBS "")
foreach(_lib IN LISTS TP_AERON_LINK_LIBRARIES)
    if(IS_ABSOLUTE "${_lib}")
        get_filename_component(_dir "${_lib}" DIRECTORY)
        get_filename_component(_name "${_lib}" NAME_WE)
        string(REGEX REPLACE "^lib" "" _name "${_name}")
        string(APPEND TP_AERON_PC_LIBS " -L${_dir} -Wl,-rpath,${_dir} -l${_name}")
    else()
        string(APPEND TP_AERON_PC_LIBS " ${_lib}")
    endif()
endforeach()

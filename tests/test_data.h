// Where the tests' data files are, and the one rule for skipping a test for
// want of one. Tests run on the fixtures the build writes (tests/fixtures:
// tiny pianoroll pickles, the tiny speech TFRecord), which every clone has.
// Only a test of a fact of a real file (JSB's counts, the golden JSB runs)
// needs that file in FIVO_TEST_SHARED_DATA (../shared/data, or the cmake
// cache entry FIVO_SHARED_DATA_DIR) and skips, naming it, when it is absent.
// tests/golden/results.sh words its skip the same way.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include <unistd.h>

#include "fixtures.h"

namespace fivo_test {

// A fixture written by the build (fixtures.h names them).
inline std::string fixture(const char *file)
{
    return std::string(FIVO_TEST_FIXTURE_DIR) + "/" + file;
}

// A real data file (ask FIVO_REQUIRE_REAL_FILE first).
inline std::string real_file(const char *file)
{
    return std::string(FIVO_TEST_SHARED_DATA) + "/" + file;
}

inline bool file_exists(const std::string &p)
{
    return access(p.c_str(), F_OK) == 0;
}

// The tiny pianoroll fixture's path, as a string literal.
#define FIVO_TEST_TINY_PIANOROLL FIVO_TEST_FIXTURE_DIR "/" FIXTURE_TINY_PIANOROLL

// Why a test of a real file's facts is skipped.
inline std::string real_file_skip_reason(const char *file)
{
    return "needs the real data file " + real_file(file) +
           " (this test checks facts of that file; put it in ../shared/data or configure "
           "with -DFIVO_SHARED_DATA_DIR=DIR)";
}

// True inside valgrind (its preload library is in LD_PRELOAD): its malloc
// replacement comes before any allocation shim, and its RSS is its own.
inline bool under_valgrind()
{
    const char *p = std::getenv("LD_PRELOAD");
    return p != nullptr && std::strstr(p, "vgpreload") != nullptr;
}

// True in an AddressSanitizer build: its shadow memory, allocator metadata
// and quarantine add to the process's RSS, so a test of a memory ceiling
// allows for them there.
inline constexpr bool under_asan()
{
#if defined(__SANITIZE_ADDRESS__)
    return true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
    return true;
#else
    return false;
#endif
#else
    return false;
#endif
}

} // namespace fivo_test

// The one skip check for data: skips the current test unless the real file
// is present, naming it.
#define FIVO_REQUIRE_REAL_FILE(file)                                                               \
    do {                                                                                           \
        if (!fivo_test::file_exists(fivo_test::real_file(file)))                                   \
            GTEST_SKIP() << fivo_test::real_file_skip_reason(file);                                \
    } while (0)

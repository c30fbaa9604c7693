/* harness.h - a minimal unit-test runner. Each test file defines tests with
 * TEST(name) and ends with TEST_MAIN(). Every test runs in its own forked
 * process (isolation, as libuv's runner), so a crash fails one test only.
 * The program prints "N passed, N failed" and exits non-zero on failure. */
#ifndef BO_TEST_HARNESS_H
#define BO_TEST_HARNESS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

typedef void (*test_fn)(void);
struct test_case {
    const char *name;
    test_fn fn;
};

#define TEST_MAX 512
static struct test_case test_cases[TEST_MAX];
static int test_count;

#define TEST(name)                                                                                 \
    static void test_##name(void);                                                                 \
    __attribute__((constructor)) static void register_##name(void)                                 \
    {                                                                                              \
        if (test_count < TEST_MAX)                                                                 \
            test_cases[test_count++] = (struct test_case){#name, test_##name};                     \
    }                                                                                              \
    static void test_##name(void)

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "  %s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);             \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

#define CHECK_STR(a, b)                                                                            \
    do {                                                                                           \
        const char *_a = (a), *_b = (b);                                                           \
        if (!_a || !_b || strcmp(_a, _b) != 0) {                                                   \
            fprintf(stderr, "  %s:%d: expected \"%s\", got \"%s\"\n", __FILE__, __LINE__,          \
                    _b ? _b : "(null)", _a ? _a : "(null)");                                       \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

/* Substring check, for error messages. */
#define CHECK_CONTAINS(hay, needle)                                                                \
    do {                                                                                           \
        const char *_h = (hay), *_n = (needle);                                                    \
        if (!_h || !strstr(_h, _n)) {                                                              \
            fprintf(stderr, "  %s:%d: \"%s\" does not contain \"%s\"\n", __FILE__, __LINE__,       \
                    _h ? _h : "(null)", _n);                                                       \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

#define TEST_MAIN()                                                                                \
    int main(int argc, char **argv)                                                                \
    {                                                                                              \
        int passed = 0, failed = 0;                                                                \
        for (int i = 0; i < test_count; i++) {                                                     \
            if (argc > 1 && !strstr(test_cases[i].name, argv[1]))                                  \
                continue;                                                                          \
            fflush(NULL);                                                                          \
            pid_t pid = fork();                                                                    \
            if (pid == 0) {                                                                        \
                test_cases[i].fn();                                                                \
                exit(0); /* runs the test file's destructors (temp dirs) */                       \
            }                                                                                      \
            int st = 0;                                                                            \
            waitpid(pid, &st, 0);                                                                  \
            if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {                                           \
                passed++;                                                                          \
            } else {                                                                               \
                failed++;                                                                          \
                fprintf(stderr, "FAIL %s\n", test_cases[i].name);                                  \
            }                                                                                      \
        }                                                                                          \
        printf("%s: %d passed, %d failed\n", argv[0], passed, failed);                             \
        return failed ? 1 : 0;                                                                     \
    }

#endif

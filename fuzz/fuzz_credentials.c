/* fuzz_credentials.c - libFuzzer target for the CLI's credentials file
 * parser (src/cli/credentials.c): any bytes give a token of the allowed
 * characters and length, or an error naming the file. */
#include <stdint.h>
#include <string.h>

#include "cli/credentials.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > CREDENTIALS_FILE_MAX)
        return 0;
    char *tok = NULL;
    bo_error_t err = NULL;
    if (credentials_parse((const char *)data, size, "fuzz", &tok, &err) == 0) {
        size_t n = strlen(tok);
        if (n == 0 || n > CREDENTIALS_TOKEN_MAX ||
            strspn(tok, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") != n)
            __builtin_trap();
        free(tok);
    } else if (!err || !strstr(err->msg, "fuzz")) {
        __builtin_trap();
    }
    bo_error_free(err);
    return 0;
}

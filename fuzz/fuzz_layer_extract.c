/* fuzz_layer_extract.c - libFuzzer target for image layers as a registry
 * or an imported archive sends them (extract_archive_mem in
 * src/image/extract.c: tar, gzip or zstd through libarchive, with our name
 * checks, whiteouts and limits). Each input is unpacked into a fresh
 * directory inside a scratch directory; a file appearing in the scratch
 * directory beside it means an entry escaped. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/fs.h"
#include "image/extract.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char scratch[64];

static size_t entries(const char *dir)
{
    DIR *d = opendir(dir);
    size_t n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            n++;
    if (d)
        closedir(d);
    return n;
}

static void remove_scratch(void) { bo_rm_rf(scratch, NULL); }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!scratch[0]) {
        snprintf(scratch, sizeof(scratch), "/tmp/borealis-fuzz-layer-XXXXXX");
        if (!mkdtemp(scratch))
            abort();
        atexit(remove_scratch);
    }
    char dest[128];
    snprintf(dest, sizeof(dest), "%s/layer", scratch);
    if (mkdir(dest, 0755) < 0)
        abort();
    struct extract_limits lim = {1 << 20, 1000};
    bo_error_t err = NULL;
    for (int layer = 0; layer < 2; layer++) {
        if (extract_archive_mem(data, size, dest, layer, &lim, &err) < 0) {
            if (!err || !err->msg || !*err->msg)
                __builtin_trap();
            bo_error_free(err);
            err = NULL;
        }
    }
    if (entries(scratch) != 1) /* only `layer` */
        __builtin_trap();
    if (bo_rm_rf(dest, NULL) < 0)
        abort();
    return 0;
}

/* digest.c - sha256 digests over OpenSSL's EVP (see digest.h). */
#include "image/digest.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct image_hasher {
    EVP_MD_CTX *ctx;
};

struct image_hasher *image_hasher_new(void)
{
    struct image_hasher *h = bo_xcalloc(1, sizeof(*h));
    h->ctx = EVP_MD_CTX_new();
    if (!h->ctx || EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) != 1) {
        fprintf(stderr, "OpenSSL: cannot initialise sha256\n");
        abort(); /* as out of memory: nothing sensible to do */
    }
    return h;
}

void image_hasher_update(struct image_hasher *h, const void *data, size_t len)
{
    if (len)
        EVP_DigestUpdate(h->ctx, data, len);
}

void image_hasher_free(struct image_hasher *h)
{
    if (!h)
        return;
    EVP_MD_CTX_free(h->ctx);
    free(h);
}

void image_hasher_finish(struct image_hasher *h, char out[IMAGE_DIGEST_LEN + 1])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_DigestFinal_ex(h->ctx, md, &n);
    static const char hex[] = "0123456789abcdef";
    memcpy(out, "sha256:", 7);
    for (unsigned int i = 0; i < n && i < 32; i++) {
        out[7 + 2 * i] = hex[md[i] >> 4];
        out[8 + 2 * i] = hex[md[i] & 15];
    }
    out[IMAGE_DIGEST_LEN] = 0;
    image_hasher_free(h);
}

void image_digest_buf(const void *data, size_t len, char out[IMAGE_DIGEST_LEN + 1])
{
    struct image_hasher *h = image_hasher_new();
    image_hasher_update(h, data, len);
    image_hasher_finish(h, out);
}

int image_digest_fd(int fd, const char *what, char out[IMAGE_DIGEST_LEN + 1], long long *ret_size, bo_error_t *err)
{
    struct image_hasher *h = image_hasher_new();
    char buf[65536];
    long long total = 0;
    off_t off = 0;
    for (;;) {
        ssize_t n = pread(fd, buf, sizeof(buf), off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            image_hasher_free(h);
            return bo_error_sys(err, errno, "read `%s`", what);
        }
        if (n == 0)
            break;
        image_hasher_update(h, buf, (size_t)n);
        off += n;
        total += n;
    }
    image_hasher_finish(h, out);
    if (ret_size)
        *ret_size = total;
    return 0;
}

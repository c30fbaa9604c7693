/* digest.h - sha256 content digests ("sha256:<hex>") over OpenSSL's EVP,
 * streamed, so a blob is verified as it is written. */
#ifndef BO_IMAGE_DIGEST_H
#define BO_IMAGE_DIGEST_H

#include <stddef.h>

#include "base/error.h"
#include "model/image_ref.h"

struct image_hasher;

struct image_hasher *image_hasher_new(void);
void image_hasher_update(struct image_hasher *h, const void *data, size_t len);
/* Write "sha256:<64 hex>" into out (IMAGE_DIGEST_LEN + 1 bytes); the hasher
 * is freed. */
void image_hasher_finish(struct image_hasher *h, char out[IMAGE_DIGEST_LEN + 1]);
void image_hasher_free(struct image_hasher *h);
/* Digest of a buffer. */
void image_digest_buf(const void *data, size_t len, char out[IMAGE_DIGEST_LEN + 1]);
/* Digest of an open file from its start; ret_size gets its length. */
int image_digest_fd(int fd, const char *what, char out[IMAGE_DIGEST_LEN + 1], long long *ret_size, bo_error_t *err);

#endif

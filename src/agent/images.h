/* images.h - the agent's image puller: pulls run in threads beside the
 * agent's loop (never in it), one per image in flight, however many tasks
 * wait for it; the loop learns of finished pulls through a pipe. Also the
 * image store's GC, on a timer, in a thread too. */
#ifndef BO_AGENT_IMAGES_H
#define BO_AGENT_IMAGES_H

#include <stdint.h>

#include "base/error.h"
#include "image/store.h"

struct agent_images_config {
    const char *data_dir;
    struct registry_opts registry;
    int64_t gc_age_ms;  /* images unused this long are collected */
    int min_free_pct;   /* below this, every unused image is */
};

struct agent_images;

int agent_images_new(const struct agent_images_config *cfg, struct agent_images **ret, bo_error_t *err);
/* Cancels the pulls in progress and waits for their threads (and GC's). */
void agent_images_free(struct agent_images *im);
struct image_store *agent_images_store(struct agent_images *im);
/* Readable when pulls finished (poll it with the loop's fds). */
int agent_images_fd(const struct agent_images *im);

/* Task `task_id` needs `digest_ref`: 1 when the image is in the store now,
 * 0 when a pull runs (its end comes through agent_images_drain). */
int agent_images_want(struct agent_images *im, const char *task_id, const char *digest_ref);

/* Finished pulls, one call per waiting task; err NULL on success (owned by
 * the callee). */
typedef void (*agent_images_done_fn)(void *arg, const char *task_id, bo_error_t err);
void agent_images_drain(struct agent_images *im, agent_images_done_fn done, void *arg);

/* Start a GC pass in a thread when one is due; returns ms until the next. */
int64_t agent_images_tick(struct agent_images *im, int64_t now_mono);

#endif

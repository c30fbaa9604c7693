/* resources.h - what this machine offers: online CPUs, RAM, disk. */
#ifndef BO_AGENT_RESOURCES_H
#define BO_AGENT_RESOURCES_H

#include <stdint.h>

#include "base/error.h"

int resources_detect_cpu(double *ret, bo_error_t *err);
/* MemTotal from /proc/meminfo. */
int resources_detect_ram(uint64_t *ret, bo_error_t *err);
/* Space available to unprivileged users on the file system holding `dir`. */
int resources_detect_disk(const char *dir, uint64_t *ret, bo_error_t *err);

#endif

/* options.h - the agent's command-line options: one table drives parsing,
 * defaults and --help. */
#ifndef BO_AGENT_OPTIONS_H
#define BO_AGENT_OPTIONS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "base/error.h"
#include "base/options.h"

struct agent_options {
    char *scheduler_url;
    char *data_dir;
    char *hostname;          /* NULL until resolved (default: gethostname) */
    double cpu;              /* 0: detect */
    uint64_t ram;            /* 0: detect */
    uint64_t disk;           /* 0: detect */
    bool disk_set;           /* --disk 0 is a legal explicit value */
    int64_t port_lo, port_hi;
    json_t *attributes;      /* object: key -> string ("host" added later) */
    char *executor;          /* NULL until resolved (default: beside /proc/self/exe) */
    char *cgroup_root;
    char *runtime;           /* NULL: detect (crun, then runc) */
    json_t *allow_root_roles; /* array of role names, or NULL */
    char **host_mount_allow;  /* --host-mount-allow, symlinks resolved */
    size_t n_host_mount_allow;
    int64_t sandbox_retention_ms;
    int64_t disk_check_ms;
    int64_t pids_max;
    bool cleanup_on_exit;
    /* Images (src/agent/images.c). */
    char *registry_ca, *registry_auth;
    char **plain_http;
    size_t n_plain_http;
    int64_t registry_timeout_ms;
    int64_t image_gc_age_ms;
    char *join_token_file;   /* NULL: none (an agent that has its certificate) */
    char *ca_file;           /* NULL: DATA/ca.pem, checked against the token */
    bool help;
};

/* Parse argv (argv[0] is the command name). Defaults from the table are
 * applied first; on error the message names the option. */
int agent_options_parse(int argc, char **argv, struct agent_options *ret, bo_error_t *err);
/* Fill the defaults that need the machine: hostname, executor path,
 * cpu/ram/disk (the latter needs data_dir to exist). */
int agent_options_resolve(struct agent_options *o, bo_error_t *err);
void agent_options_help(FILE *f);
/* The table, help text and examples (also for `borealis help agent` and
 * docs/cli.md). */
extern const struct bo_option agent_option_table[];
extern const char agent_help_text[];
extern const char agent_examples[];
void agent_options_clear(struct agent_options *o);

#endif

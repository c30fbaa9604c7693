/* fuzz_bind.c - libFuzzer target for --bind values: the input is one
 * NAME=VALUE per line, checked as the CLI checks them (job_ops_check_binds)
 * and then applied to a job file whose cmdline and name use variables
 * (jobfile_load_buffer), as `job create --bind` does. A loaded config must
 * encode to JSON the scheduler accepts. */
#include <stdint.h>
#include <string.h>

#include "cli/job_ops.h"
#include "config/jobfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char job_yaml[] = "vars:\n"
                               "  greeting: hello\n"
                               "jobs:\n"
                               "  - cluster: local\n"
                               "    role: www-data\n"
                               "    environment: devel\n"
                               "    name: hello\n"
                               "    task:\n"
                               "      resources: {cpu: 0.1, ram: 32MiB, disk: 64MiB}\n"
                               "      processes:\n"
                               "        - name: hello\n"
                               "          cmdline: \"echo {{greeting}} {{who}} {{instance}} {{ports.http}}\"\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 70000)
        return 0;
    char *text = bo_xstrndup((const char *)data, size);
    const char *binds[CLI_MAX_BINDS + 2];
    size_t n = 0;
    for (char *p = text; p && n < CLI_MAX_BINDS + 2;) {
        char *nl = strchr(p, '\n');
        if (nl)
            *nl = '\0';
        binds[n++] = p;
        p = nl ? nl + 1 : NULL;
    }
    (void)job_ops_check_binds(binds, n); /* prints its error; run.sh closes stderr */
    const struct jobfile_options o = {binds, n};
    struct job_config *c = NULL;
    bo_error_t err = NULL;
    if (jobfile_load_buffer("bind.yaml", job_yaml, sizeof(job_yaml) - 1, NULL, &o, &c, &err) == 0) {
        json_t *j = job_config_to_json(c);
        struct job_config *c2 = NULL;
        if (job_config_from_json(j, &c2, NULL) < 0)
            __builtin_trap(); /* a loaded config must be one the scheduler takes */
        job_config_unref(c2);
        json_decref(j);
        job_config_unref(c);
    } else if (!err || !err->msg || !*err->msg) {
        __builtin_trap();
    }
    bo_error_free(err);
    free(text);
    return 0;
}

/* identity.c - DATA/agent-id. */
#include "agent/identity.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>

#include "base/clock.h"
#include "base/fs.h"

static bool is_uuid(const char *s)
{
    if (strlen(s) != 36)
        return false;
    for (int i = 0; i < 36; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !isxdigit((unsigned char)s[i]))
            return false;
    }
    return true;
}

int identity_load_or_create(const char *data_dir, char ret[37], bo_error_t *err)
{
    _cleanup_free_ char *path = bo_xasprintf("%s/agent-id", data_dir);
    _cleanup_free_ char *buf = NULL;
    bo_error_t e = NULL;
    if (bo_read_file(path, 256, &buf, NULL, &e) == 0) {
        buf[strcspn(buf, "\r\n")] = '\0';
        if (!is_uuid(buf))
            return bo_error_set(err, BO_E_INVALID, "`%s` does not hold a UUID (remove it to get a new agent id)",
                                path);
        memcpy(ret, buf, 37);
        return 0;
    }
    if (e->sys_errno != ENOENT) {
        *err = e;
        return -1;
    }
    bo_error_free(e);
    char id[37];
    bo_uuid4(id);
    char line[38];
    snprintf(line, sizeof(line), "%s\n", id);
    if (bo_write_file_atomic(path, line, strlen(line), true, err) < 0)
        return -1;
    memcpy(ret, id, 37);
    return 0;
}

/* log.c - one-line, timestamped log records on stderr. */
#include "base/log.h"

#include <stdarg.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

static const char *log_ident = "borealis";
static enum bo_log_level log_min = BO_LOG_INFO;

void bo_log_init(const char *ident)
{
    log_ident = ident;
    const char *e = getenv("BOREALIS_LOG");
    if (e && strcmp(e, "debug") == 0)
        log_min = BO_LOG_DEBUG;
}

void bo_log(enum bo_log_level lvl, const char *fmt, ...)
{
    static const char *names[] = {"debug", "info", "warn", "error"};
    if (lvl < log_min)
        return;
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    char ts[32];
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s.%03dZ %s[%d] %s: %s\n", ts, (int)(tv.tv_usec / 1000), log_ident, (int)getpid(),
            names[lvl], line);
}

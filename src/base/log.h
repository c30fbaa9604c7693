/* log.h - logging for the daemons' top layers (scheduler loop, agent loop,
 * executor main). Library functions return errors instead of logging. */
#ifndef BO_LOG_H
#define BO_LOG_H

#include "base/util.h"

enum bo_log_level { BO_LOG_DEBUG, BO_LOG_INFO, BO_LOG_WARN, BO_LOG_ERROR };

/* `ident` prefixes every line ("scheduler", "agent", ...). Default: stderr,
 * INFO. BOREALIS_LOG=debug turns on debug lines. */
void bo_log_init(const char *ident);
void bo_log(enum bo_log_level lvl, const char *fmt, ...) BO_PRINTF(2, 3);

#define log_debug(...) bo_log(BO_LOG_DEBUG, __VA_ARGS__)
#define log_info(...) bo_log(BO_LOG_INFO, __VA_ARGS__)
#define log_warn(...) bo_log(BO_LOG_WARN, __VA_ARGS__)
#define log_error(...) bo_log(BO_LOG_ERROR, __VA_ARGS__)

#endif

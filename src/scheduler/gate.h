/* gate.h - what every API request passes before its handler (docs/api.md
 * "Authentication"): the browser checks (a write must say Content-Type
 * application/json, a foreign Origin is refused, the Host header must be
 * one of the scheduler's names: no DNS rebinding), then authentication
 * (bearer token) and the permission of the route table's column. */
#ifndef BO_SCHEDULER_GATE_H
#define BO_SCHEDULER_GATE_H

#include <stdbool.h>
#include <stddef.h>

#include "net/http_server.h"

/* The http_gate_fn of the scheduler (ctx: struct scheduler). */
bool gate_check(struct http_request *req, void *ctx);

/* Pure checks, for tests and fuzzing. Host: "name[:port]" or
 * "[v6]:port"; an IP literal, `localhost` or one of `names` (case
 * insensitive) passes. */
bool gate_host_ok(const char *host, const char *const *names, size_t n_names);
/* Origin "scheme://host[:port]" must name the Host the request was sent to. */
bool gate_origin_ok(const char *origin, const char *host);
/* "application/json", optionally with parameters ("; charset=utf-8"). */
bool gate_json_type(const char *content_type);

/* The principal's token for a request that passed the gate, or NULL. */
struct auth_token;
struct auth_token *gate_principal(struct http_request *req, void *ctx);
/* For PERM_ROLE_* routes whose role is known only in the handler (job
 * create: in the body; lists: the filter): true, or answers 403. */
bool gate_role(struct http_request *req, void *ctx, const char *role, bool write);

#endif

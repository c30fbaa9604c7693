/* api.h - the CLI's calls to the scheduler API (docs/api.md): URL
 * building, and turning transport failures and HTTP error answers into
 * bo_error_t values whose kind says what went wrong. */
#ifndef BO_CLI_API_H
#define BO_CLI_API_H

#include <jansson.h>

#include "base/error.h"
#include "cli/cli.h"

/* A transport failure of a request to the scheduler (http_request's
 * error `e`) as the error the CLI reports: BO_E_TLS with where the CA is,
 * BO_E_TIMEOUT, or BO_E_NETWORK with how to choose the scheduler.
 * Returns -1. */
int api_transport_error(const struct cli_ctx *ctx, const struct bo_error_s *e, bo_error_t *err);

/* method + ctx->scheduler + path ("/api/v1/jobs"). On a 2xx answer
 * returns 0 and the parsed JSON body in *ret_body (a new reference;
 * ret_body may be NULL). Otherwise -1 with:
 *   BO_E_NETWORK  scheduler unreachable (the message names the URL and how
 *                 to choose another: --scheduler / $BOREALIS_SCHEDULER),
 *   BO_E_TIMEOUT  no answer in time,
 *   BO_E_INVALID  400, BO_E_NOTFOUND 404, BO_E_EXISTS 409 EXISTS,
 *   BO_E_REFUSED  409 REFUSED, BO_E_API anything else;
 * for an HTTP error the message is the scheduler's "error" text. */
int api_call(const struct cli_ctx *ctx, const char *method, const char *path, json_t *body,
             json_t **ret_body, bo_error_t *err);
/* The same with a time limit for the whole request (0: the default 30 s),
 * for a caller that has its own deadline (--wait-timeout). */
int api_call_timeout(const struct cli_ctx *ctx, const char *method, const char *path, json_t *body,
                     long timeout_ms, json_t **ret_body, bo_error_t *err);

/* Check that a 2xx answer of method+path holds `field` of JSON type
 * `type` (JSON_OBJECT, JSON_ARRAY, ...): 0, or -1 with a BO_E_API error
 * naming the request and the field. */
int api_expect(json_t *body, const char *method, const char *path, const char *field, json_type type,
               bo_error_t *err);

/* GET a list route (docs/api.md "Paging") page after page, following
 * "next", into one answer whose `field` holds every entry. */
#define API_PAGES_MAX 10000
int api_get_all(const struct cli_ctx *ctx, const char *path, const char *field, json_t **ret_body, bo_error_t *err);

/* Percent-encode a query-string value. Caller frees. */
char *api_escape(const char *s);

#endif

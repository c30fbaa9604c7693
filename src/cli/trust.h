/* trust.h - which CA the CLI trusts for the scheduler: $BOREALIS_CA, else
 * the CA `borealis up` saved for that address in the user's config
 * directory, else the system's. */
#ifndef BO_CLI_TRUST_H
#define BO_CLI_TRUST_H

#include "base/error.h"

#define CLI_CA_ENV "BOREALIS_CA"

/* $XDG_CONFIG_HOME/borealis/ca/HOST_PORT.pem (or ~/.config/...) for an
 * https URL; NULL when there is no home to put it in. Heap string. */
char *cli_trust_path(const char *url);
/* Set the CA http_request uses for url. */
void cli_trust_setup(const char *url);
/* Save a CA for url where cli_trust_setup finds it (0644, dirs 0700). */
int cli_trust_save(const char *url, const char *pem, bo_error_t *err);

#endif

/* store_faulty.h - a fault-injecting store backend for tests, as SQLite
 * tests its own I/O failures: it wraps another store and fails the Nth
 * write operation (begin, put, delete or commit) on command, so every
 * failed-commit path of a caller can be driven, not only a full disk. */
#ifndef BO_STORE_STORE_FAULTY_H
#define BO_STORE_STORE_FAULTY_H

#include <stdint.h>

#include "store/store.h"

/* Wrap `inner` (taking ownership: closing the wrapper closes it). Until
 * store_faulty_fail_at() is called nothing fails. */
struct store *store_faulty_wrap(struct store *inner);
/* Fail the `n`th write operation counted from now (1 = the next one) with
 * BO_E_IO, and every one after it while `sticky` (a dead disk) or only
 * that one (a transient error). 0 disarms. A failed operation never
 * reaches the inner store; a failed commit rolls the inner batch back. */
void store_faulty_fail_at(struct store *s, uint64_t n, bool sticky);
/* Write operations seen since the wrapper was made (failed ones too), so
 * a test can count the operations of a path and then fail each in turn. */
uint64_t store_faulty_ops(const struct store *s);
/* How many operations were failed on purpose. */
uint64_t store_faulty_failures(const struct store *s);

#endif

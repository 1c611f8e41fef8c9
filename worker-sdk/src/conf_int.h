/* conf_int.h - what the SDK's modules need of a conf beyond the public API. */
#ifndef JC_CONF_INT_H
#define JC_CONF_INT_H

#include "jobcoord/jobcoord.h"

/* jc_conf_each calls fn for every key starting with prefix, with the prefix
 * stripped from the name; stops at and returns the first non-zero result. */
int jc_conf_each(const jc_conf_t *conf, const char *prefix,
                 int (*fn)(const char *name, const char *value, void *arg), void *arg);

#endif

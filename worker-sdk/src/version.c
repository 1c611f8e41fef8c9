/* version.c - the library version. */
#include "jobcoord/jobcoord.h"

const char *jc_version(void) { return JC_VERSION_STR; }

int jc_version_num(void) { return JC_VERSION; }

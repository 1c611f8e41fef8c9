/* tmpfiles.h - scratch files for C tests. */
#ifndef JC_TEST_TMPFILES_H
#define JC_TEST_TMPFILES_H

#include <stdio.h>

/* tmp_write writes text to dir/name and returns the path (static storage,
 * overwritten by the next call). */
static inline const char *tmp_write(const char *dir, const char *name, const char *text)
{
    static char path[256];
    FILE *f;

    snprintf(path, sizeof path, "%s/%s", dir, name);
    f = fopen(path, "w");
    if (!f)
        return path;
    fputs(text, f);
    fclose(f);
    return path;
}

#endif

/* web_assets.h - the dashboard's static files built into the daemon
 * (generated from coordinator/web by cmake/embed_web.cmake; served by
 * http_ui.c). */
#ifndef JC_WEB_ASSETS_H
#define JC_WEB_ASSETS_H

#include <stddef.h>

typedef struct jc_web_asset {
    const char *name;         /* file name, e.g. "app.js" */
    const char *content_type; /* with the charset for text */
    const char *etag;         /* quoted, from the content's SHA-256 */
    const unsigned char *data;
    size_t len;
} jc_web_asset;

extern const jc_web_asset jc_web_assets[];
extern const size_t jc_web_assets_count;

#endif

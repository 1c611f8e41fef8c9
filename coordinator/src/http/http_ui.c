/*
 * http_ui.c - the status dashboard: GET / answers index.html and
 * GET /ui/<file> the page's script and style sheet, all built into the
 * binary (web_assets.h), so serving them reads no file and the daemon has
 * no document root a request could walk out of: a name is looked up in the
 * embedded table, and anything else is 404.
 *
 * The page is static and holds no data; it reads the status API with the
 * caller's own bearer token, so these routes need no authentication. Every
 * answer carries a Content-Security-Policy that allows scripts, styles and
 * connections only from this origin (no inline script or style, no
 * framing), so data the page renders cannot run as code even if a bug put
 * it in the DOM as markup. Cache-Control: no-cache with an ETag: a browser
 * revalidates (304) and picks up a new build at once.
 */
#include <string.h>

#include "http/http_int.h"
#include "http/web_assets.h"

#define UI_INDEX "index.html"

static const char ui_csp[] = "default-src 'self'; img-src 'self' data:; style-src 'self'; "
                             "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; "
                             "base-uri 'none'; form-action 'self'";

// find_asset returns the embedded file called name, NULL if there is none.
static const jc_web_asset *find_asset(const char *name)
{
    for (size_t i = 0; i < jc_web_assets_count; i++)
        if (strcmp(jc_web_assets[i].name, name) == 0)
            return &jc_web_assets[i];
    return NULL;
}

// etag_matches: If-None-Match names the asset's ETag (or is "*").
static int etag_matches(jc_req *r, const jc_web_asset *a)
{
    const char *inm = jc_req_header(r, MHD_HTTP_HEADER_IF_NONE_MATCH);
    return inm && (strcmp(inm, "*") == 0 || strstr(inm, a->etag) != NULL);
}

// send_asset answers 200 with the file and the UI's headers, or 304 when
// the browser already holds this version.
static enum MHD_Result send_asset(jc_req *r, const jc_web_asset *a)
{
    const char *const headers[] = {"Content-Security-Policy",
                                   ui_csp,
                                   "X-Frame-Options",
                                   "DENY",
                                   "Referrer-Policy",
                                   "no-referrer",
                                   "Cache-Control",
                                   "no-cache",
                                   "ETag",
                                   a->etag,
                                   NULL};

    if (etag_matches(r, a))
        return jc_reply_with_headers(r, 304, a->content_type, "", 0, headers);
    return jc_reply_with_headers(r, 200, a->content_type, (const char *)a->data, a->len,
                                 headers);
}

enum MHD_Result jc_http_ui(jc_req *r)
{
    const jc_web_asset *a = find_asset(UI_INDEX);
    if (!a)
        return jc_reply_error(r, 404, "not_found", "the dashboard is not built in");
    return send_asset(r, a);
}

enum MHD_Result jc_http_ui_asset(jc_req *r)
{
    const jc_web_asset *a = r->arg ? find_asset(r->arg) : NULL;
    if (!a)
        return jc_reply_error(r, 404, "not_found", "no such file");
    return send_asset(r, a);
}

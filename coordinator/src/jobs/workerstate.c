/* workerstate.c - the worker status table (see workerstate.h). */
#include "jobs/workerstate.h"

#include <string.h>

#define X WS_INVALID

/* next[status][input] */
// clang-format off
static const jc_worker_status next[WS__COUNT][WI__COUNT] = {
    /*              HEARTBEAT  HEARTBEAT_DRAIN  DRAIN        UNDRAIN     SILENT */
    [WS_ONLINE] =   {WS_ONLINE, WS_DRAINING,    WS_DRAINING, WS_ONLINE,  WS_OFFLINE},
    [WS_DRAINING] = {WS_ONLINE, WS_DRAINING,    WS_DRAINING, WS_ONLINE,  WS_OFFLINE},
    /* an operator may flag an offline worker; it drains when it comes back */
    [WS_OFFLINE] =  {WS_ONLINE, WS_DRAINING,    WS_OFFLINE,  WS_OFFLINE, X},
};
// clang-format on

static const char *const names[WS__COUNT] = {
    [WS_ONLINE] = JC_WORKER_ONLINE,
    [WS_DRAINING] = JC_WORKER_DRAINING,
    [WS_OFFLINE] = JC_WORKER_OFFLINE,
};

jc_worker_status jc_worker_next(jc_worker_status status, jc_worker_input input)
{
    if (status < 0 || status >= WS__COUNT || input < 0 || input >= WI__COUNT)
        return WS_INVALID;
    return next[status][input];
}

const char *jc_worker_status_name(jc_worker_status s)
{
    return s >= 0 && s < WS__COUNT ? names[s] : "invalid";
}

jc_worker_status jc_worker_status_parse(const char *s)
{
    for (int i = 0; i < WS__COUNT; i++)
        if (strcmp(names[i], s) == 0)
            return (jc_worker_status)i;
    return WS_INVALID;
}

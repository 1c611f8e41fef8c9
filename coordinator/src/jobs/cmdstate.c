/* cmdstate.c - the outbox delivery status table (see cmdstate.h). */
#include "jobs/cmdstate.h"

#include <string.h>

#define X CS_INVALID

/* next[status][input] */
// clang-format off
static const jc_cmd_status next[CS__COUNT][CI__COUNT] = {
    /*             PRODUCED  DELIVERED  ACKED     REFUSED    GIVEN_UP */
    [CS_PENDING] = {CS_SENT, CS_DONE,   CS_ACKED, CS_FAILED, CS_FAILED},
    [CS_SENT] =    {CS_SENT, X,         CS_ACKED, CS_FAILED, CS_FAILED},
    [CS_ACKED] =   {X,       X,         X,        X,         X},
    [CS_FAILED] =  {X,       X,         X,        X,         X},
    [CS_DONE] =    {X,       X,         X,        X,         X},
};
// clang-format on

static const char *const names[CS__COUNT] = {
    [CS_PENDING] = JC_CMD_PENDING, [CS_SENT] = JC_CMD_SENT, [CS_ACKED] = JC_CMD_ACKED,
    [CS_FAILED] = JC_CMD_FAILED,   [CS_DONE] = JC_CMD_DONE,
};

jc_cmd_status jc_cmd_next(jc_cmd_status status, jc_cmd_input input)
{
    if (status < 0 || status >= CS__COUNT || input < 0 || input >= CI__COUNT)
        return CS_INVALID;
    return next[status][input];
}

const char *jc_cmd_status_name(jc_cmd_status s)
{
    return s >= 0 && s < CS__COUNT ? names[s] : "invalid";
}

jc_cmd_status jc_cmd_status_parse(const char *s)
{
    for (int i = 0; i < CS__COUNT; i++)
        if (strcmp(names[i], s) == 0)
            return (jc_cmd_status)i;
    return CS_INVALID;
}

int jc_cmd_status_final(jc_cmd_status s)
{
    return s == CS_ACKED || s == CS_FAILED || s == CS_DONE;
}

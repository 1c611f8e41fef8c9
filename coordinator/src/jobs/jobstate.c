/* jobstate.c - the job state machine's transition table (see jobstate.h). */
#include "jobs/jobstate.h"

#include <string.h>

#define X JS_INVALID

/* next[state][input] */
// clang-format off
static const jc_job_state next[JS__COUNT][JI__COUNT] = {
    /*               ACCEPTED     STARTED      PROGRESS      LOG           SUCCEEDED     FAILED      CANCELED      CANCEL        REQUEUE      REFUSED     UNSCHED    RETRY */
    [JS_PENDING] =  {X,           X,           X,            X,            X,            X,          X,            JS_CANCELED,  X,           X, JS_FAILED, X},
    [JS_ASSIGNED] = {JS_ASSIGNED, JS_RUNNING,  JS_RUNNING,   JS_ASSIGNED,  JS_SUCCEEDED, JS_PENDING, JS_CANCELED,  JS_CANCELING, JS_PENDING,  JS_PENDING, X, X},
    [JS_RUNNING] =  {X,           X,           JS_RUNNING,   JS_RUNNING,   JS_SUCCEEDED, JS_PENDING, JS_CANCELED,  JS_CANCELING, JS_PENDING,  X, X, X},
    [JS_SUCCEEDED] = {X,          X,           X,            X,            X,            X,          X,            X,            X,           X, X, X},
    [JS_FAILED] =   {X,           X,           X,            X,            X,            X,          X,            X,            X,           X, X, JS_PENDING},
    [JS_CANCELING] = {JS_CANCELING, JS_CANCELING, JS_CANCELING, JS_CANCELING, JS_SUCCEEDED, JS_CANCELED, JS_CANCELED, X,          JS_CANCELED, JS_CANCELED, X, X},
    [JS_CANCELED] = {X,           X,           X,            X,            X,            X,          X,            X,            X,           X, X, JS_PENDING},
};
// clang-format on

static const char *const names[JS__COUNT] = {"pending",  "assigned",  "running", "succeeded",
                                             "failed",   "canceling", "canceled"};

jc_job_state jc_job_next(jc_job_state state, jc_job_input input)
{
    if (state < 0 || state >= JS__COUNT || input < 0 || input >= JI__COUNT)
        return JS_INVALID;
    return next[state][input];
}

const char *jc_job_state_name(jc_job_state s)
{
    return s >= 0 && s < JS__COUNT ? names[s] : "invalid";
}

jc_job_state jc_job_state_parse(const char *s)
{
    for (int i = 0; i < JS__COUNT; i++)
        if (strcmp(names[i], s) == 0)
            return (jc_job_state)i;
    return JS_INVALID;
}

int jc_job_state_final(jc_job_state s)
{
    return s == JS_SUCCEEDED || s == JS_FAILED || s == JS_CANCELED;
}

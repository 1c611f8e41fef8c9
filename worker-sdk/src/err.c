/* err.c - error codes: names, descriptions, retriability. */
#include "jobcoord/jobcoord.h"

static const struct {
    const char *name;
    const char *desc;
    int retriable;
} errs[JC_ERR__END] = {
    [JC_OK] = {"JC_OK", "success", 0},
    [JC_ERR_INVALID_ARG] = {"JC_ERR_INVALID_ARG", "invalid argument", 0},
    [JC_ERR_UNKNOWN_CONF] = {"JC_ERR_UNKNOWN_CONF", "unknown configuration key", 0},
    [JC_ERR_INVALID_CONF] = {"JC_ERR_INVALID_CONF", "invalid configuration value", 0},
    [JC_ERR_NOMEM] = {"JC_ERR_NOMEM", "out of memory", 1},
    [JC_ERR_KAFKA] = {"JC_ERR_KAFKA", "Kafka client error", 0},
    [JC_ERR_TRANSPORT] = {"JC_ERR_TRANSPORT", "temporary transport failure", 1},
    [JC_ERR_TOO_LARGE] = {"JC_ERR_TOO_LARGE", "message or field too large", 0},
    [JC_ERR_MALFORMED] = {"JC_ERR_MALFORMED", "malformed message", 0},
    [JC_ERR_LIMIT] = {"JC_ERR_LIMIT", "nesting depth or element count over limit", 0},
    [JC_ERR_SCHEMA] = {"JC_ERR_SCHEMA", "field missing, of the wrong type or out of range", 0},
    [JC_ERR_BAD_VERSION] = {"JC_ERR_BAD_VERSION", "unsupported protocol version", 0},
    [JC_ERR_BAD_SIGNATURE] = {"JC_ERR_BAD_SIGNATURE", "signature does not verify", 0},
    [JC_ERR_QUEUE_FULL] = {"JC_ERR_QUEUE_FULL", "local queue full", 1},
    [JC_ERR_STATE] = {"JC_ERR_STATE", "not valid in the current state", 0},
    [JC_ERR_IO] = {"JC_ERR_IO", "file or system error", 0},
    [JC_ERR_TIMED_OUT] = {"JC_ERR_TIMED_OUT", "timed out", 1},
    [JC_ERR_AUTH] = {"JC_ERR_AUTH", "refused by the server (credentials or request)", 0},
    [JC_ERR_REFUSED] = {"JC_ERR_REFUSED", "the coordinator refused the request", 0},
};

static int known(jc_err_t err) { return (int)err >= 0 && err < JC_ERR__END && errs[err].name; }

const char *jc_err2str(jc_err_t err) { return known(err) ? errs[err].desc : "unknown error"; }

const char *jc_err_name(jc_err_t err) { return known(err) ? errs[err].name : "JC_ERR_UNKNOWN"; }

int jc_error_is_retriable(jc_err_t err) { return known(err) ? errs[err].retriable : 0; }

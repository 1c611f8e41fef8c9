/*
 * log.h - leveled logging to stderr as text or JSON lines. Each record is
 * written with one write(2), so lines from different threads never mix.
 */
#ifndef JC_LOG_H
#define JC_LOG_H

#include <stdarg.h>

typedef enum jc_log_level {
    JC_LOG_DEBUG = 0,
    JC_LOG_INFO,
    JC_LOG_WARN,
    JC_LOG_ERROR,
} jc_log_level;

/* jc_log_setup sets the minimum level and the format ("text" or "json").
 * Call before threads start. Returns -1 on an unknown level or format. */
int jc_log_setup(const char *level, const char *format);

/* jc_log_enabled tells whether a record at level would be written. */
int jc_log_enabled(jc_log_level level);

/* jc_log writes one record: component names the module ("ingest"). */
void jc_log(jc_log_level level, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* jc_log_limit bounds the lines one call site writes: at most per_second a
 * second; the lines refused are counted and reported in one line ("N more
 * <what> not logged") when the next second starts. Input from the network
 * decides how often such a site is reached, so it must never be a log line
 * per message. Zero-initialise; one limiter per thread (no locking). */
typedef struct jc_log_limit {
    long second;
    int used;
    unsigned suppressed;
} jc_log_limit;

/* jc_log_allow tells whether the caller may write its line now (1) or must
 * drop it (0, counted). component and what name the summary line. */
int jc_log_allow(jc_log_limit *l, int per_second, const char *component, const char *what);

#define LOG_DEBUG(comp, ...) \
    do { if (jc_log_enabled(JC_LOG_DEBUG)) jc_log(JC_LOG_DEBUG, comp, __VA_ARGS__); } while (0)
#define LOG_INFO(comp, ...) jc_log(JC_LOG_INFO, comp, __VA_ARGS__)
#define LOG_WARN(comp, ...) jc_log(JC_LOG_WARN, comp, __VA_ARGS__)
#define LOG_ERROR(comp, ...) jc_log(JC_LOG_ERROR, comp, __VA_ARGS__)

#endif

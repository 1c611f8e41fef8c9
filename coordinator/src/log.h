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

#define LOG_DEBUG(comp, ...) \
    do { if (jc_log_enabled(JC_LOG_DEBUG)) jc_log(JC_LOG_DEBUG, comp, __VA_ARGS__); } while (0)
#define LOG_INFO(comp, ...) jc_log(JC_LOG_INFO, comp, __VA_ARGS__)
#define LOG_WARN(comp, ...) jc_log(JC_LOG_WARN, comp, __VA_ARGS__)
#define LOG_ERROR(comp, ...) jc_log(JC_LOG_ERROR, comp, __VA_ARGS__)

#endif

/* formats.h — the spectrum reader's internals, shared by its format parsers (msp.c, jcamp.c, peaktable.c, formats.c). */
#ifndef SM_FORMATS_H
#define SM_FORMATS_H

#include <stdbool.h>
#include <stdio.h>

#include "sm_internal.h"

/* Largest abundance accepted: beyond any detector's count range, so a value this
 * big is a broken export, not a spectrum. */
#define SM_MAX_INTENSITY 1e15

/* A line looked at by format detection, kept to be read again (stdin cannot seek). */
typedef struct sm_saved_line {
    char *text;
    size_t len;
    unsigned long lineno;
    bool too_long;
    bool has_nul;
} sm_saved_line;

struct sm_reader {
    FILE *fp;
    bool owns_fp;
    char *label;            /* file name used in messages */
    char *buf;              /* current line, NUL-terminated, CR/LF stripped */
    size_t len;
    unsigned long lineno;   /* line number of buf */
    unsigned long raw_lines;/* lines taken from fp so far */
    bool have_line;         /* buf holds a line not consumed yet (push-back) */
    bool eof;
    bool io_error;
    bool line_too_long;
    bool line_has_nul;
    size_t records;
    sm_format format;

    sm_saved_line *saved;   /* lines read by detection, replayed first */
    size_t n_saved;
    size_t cap_saved;
    size_t next_saved;

    int jcamp_depth;        /* LINK blocks open around the current JCAMP block */
    bool table_done;        /* a peak table is one spectrum: read once */
};

/* Next line into r->buf (push-back and replayed lines first); false at the end. */
bool sm_read_line_(sm_reader *r);
/* Keeps a copy of r->buf to be read again after detection. */
sm_status sm_save_line_(sm_reader *r, sm_error *err);
/* The error for an over-long line or a NUL byte in r->buf, SM_OK for neither. */
sm_status sm_line_check_(sm_reader *r, sm_error *err);

bool sm_is_blank_(const char *s);
char *sm_trim_(char *s);
/* Strict decimal number: no hex, no inf/nan words, nothing trailing. */
bool sm_parse_number_(const char *tok, size_t len, double *out);
/* "Key: value" with a key starting with a letter; modifies the line. */
bool sm_split_field_(char *line, char **key, char **value);
/* A "Name:" line, any case: the start of an MSP/MSL record. */
bool sm_line_starts_record_(const char *line);

/* A copy of s that is valid UTF-8: bytes that do not form a valid UTF-8 sequence
 * are taken as Latin-1 (ISO 8859-1) and re-encoded. NULL when out of memory. */
char *sm_utf8_dup_(const char *s);
/* Sets (or with append, adds a line to) a text field, as UTF-8. */
sm_status sm_set_field_(sm_spectrum *s, sm_field f, const char *value, bool append,
                        sm_reader *r, sm_error *err);
/* Adds a peak after checking 0 < m/z <= SM_MAX_MZ, 0 <= abundance <=
 * SM_MAX_INTENSITY, both finite, and the peak-count limit; errors name r's line. */
sm_status sm_add_peak_(sm_spectrum *s, double mz, double in, sm_reader *r, sm_error *err);

/* Format detection from the first lines (formats.c); the lines read are replayed. */
sm_status sm_detect_format_(sm_reader *r, sm_error *err);
/* Cells of a peak-table row split on tabs, else commas, else ';', else blanks;
 * returns how many (up to max filled), each trimmed and unquoted. */
size_t sm_table_cells_(const char *line, const char **cell, size_t *cell_len, size_t max);

sm_status sm_msp_next_(sm_reader *r, sm_spectrum *s, sm_error *err);
sm_status sm_jcamp_next_(sm_reader *r, sm_spectrum *s, sm_error *err);
sm_status sm_table_next_(sm_reader *r, sm_spectrum *s, sm_error *err);

#endif

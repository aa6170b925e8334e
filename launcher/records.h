/* The record codec, C side (see assembly/records.ts for the format). Records
 * are parsed in place: fields point into the caller's buffer. */
#pragma once
#include <stddef.h>
#include <stdint.h>

typedef struct {
  const char **fields; /* nfields entries, each NUL-terminated */
  size_t nfields;
} record_t;

typedef struct {
  record_t *recs;
  size_t n;
  const char **field_store;
} records_t;

/* Returns 0, or -1 when the bytes are not a well-formed record stream
 * (errno E2BIG: more than max_records records, or 4 fields a record on
 * average). records_parse caps at FHS_RECORDS_CAP. Free with
 * free(recs) and free(field_store). */
int records_parse(const uint8_t *buf, size_t len, records_t *out);
int records_parse_max(const uint8_t *buf, size_t len, size_t max_records, records_t *out);
/* Frees what records_parse allocated (the buffer stays the caller's). */
void records_free(records_t *r);
/* The first pass of a parse: how many records and fields the bytes hold,
 * under the same rules and caps (the typed plan parser, plan.c, fills its
 * own rows from it). */
int records_count(const uint8_t *buf, size_t len, size_t max_records, size_t *nrecs, size_t *nfields);

/* A growable output buffer of records. */
typedef struct {
  uint8_t *buf;
  size_t len, cap;
} recbuf_t;

void recbuf_field(recbuf_t *b, const char *field);
void recbuf_end(recbuf_t *b);
void recbuf_record(recbuf_t *b, const char *first, ...) __attribute__((sentinel));
void recbuf_bytes(recbuf_t *b, const uint8_t *bytes, size_t len);

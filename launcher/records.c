#include "records.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>

#include "abi.h"
#include "util.h"

int records_parse(const uint8_t *buf, size_t len, records_t *out)
{
  return records_parse_max(buf, len, FHS_RECORDS_CAP, out);
}

int records_count(const uint8_t *buf, size_t len, size_t max_records, size_t *nrecs_out, size_t *nfields_out)
{
  *nrecs_out = *nfields_out = 0;
  if (len == 0) return 0;
  if (buf[len - 1] != 0) return -1;
  size_t nfields = 0, nrecs = 0, start = 0, open = 0;
  for (size_t i = 0; i < len; i++) {
    if (buf[i]) continue;
    if (i == start) {
      if (!open) return -1;
      /* The tables cost 24 bytes a record: a file of tiny records must not
       * cost many times its size in memory. */
      if (++nrecs > max_records) { errno = E2BIG; return -1; }
      open = 0;
    } else {
      if (++nfields > 4 * max_records) { errno = E2BIG; return -1; }
      open++;
    }
    start = i + 1;
  }
  if (open) return -1;
  *nrecs_out = nrecs;
  *nfields_out = nfields;
  return 0;
}

int records_parse_max(const uint8_t *buf, size_t len, size_t max_records, records_t *out)
{
  memset(out, 0, sizeof *out);
  /* Count first, then fill: two passes, two allocations. */
  size_t nrecs, nfields;
  if (records_count(buf, len, max_records, &nrecs, &nfields) < 0) return -1;
  if (nrecs == 0) return 0;
  out->recs = xmalloc(nrecs * sizeof *out->recs);
  out->field_store = xmalloc(nfields * sizeof *out->field_store);
  size_t f = 0, r = 0, first = 0, start = 0;
  for (size_t i = 0; i < len; i++) {
    if (buf[i]) continue;
    if (i == start) {
      out->recs[r].fields = &out->field_store[first];
      out->recs[r].nfields = f - first;
      r++;
      first = f;
    } else {
      out->field_store[f++] = (const char *)buf + start;
    }
    start = i + 1;
  }
  out->n = nrecs;
  return 0;
}

void recbuf_bytes(recbuf_t *b, const uint8_t *bytes, size_t len)
{
  if (b->len + len > b->cap) {
    size_t cap = b->cap ? b->cap : 512;
    while (cap < b->len + len) cap *= 2;
    b->buf = xrealloc(b->buf, cap);
    b->cap = cap;
  }
  memcpy(b->buf + b->len, bytes, len);
  b->len += len;
}

void recbuf_field(recbuf_t *b, const char *field)
{
  recbuf_bytes(b, (const uint8_t *)field, strlen(field) + 1);
}

void recbuf_end(recbuf_t *b)
{
  static const uint8_t nul = 0;
  recbuf_bytes(b, &nul, 1);
}

void recbuf_record(recbuf_t *b, const char *first, ...)
{
  va_list ap;
  va_start(ap, first);
  for (const char *f = first; f; f = va_arg(ap, const char *)) recbuf_field(b, f);
  va_end(ap);
  recbuf_end(b);
}

void records_free(records_t *r)
{
  free(r->recs);
  free(r->field_store);
  memset(r, 0, sizeof *r);
}

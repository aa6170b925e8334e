/* libFuzzer harness: the policy input encoder (records.c recbuf_*), which
 * writes every input a policy reads: the manifest's records, the view's
 * marker copied whole, the host's entries. The fuzz input is a program of
 * writes: each byte picks one (a field from the bytes that follow, the end
 * of a record, a whole record of up to three fields, a marker's raw records),
 * and the harness keeps its own list of the records it wrote.
 * Properties: never crashes, never writes outside its buffer; the stream
 * parses back to exactly the records written, field for field. */
#include <stdlib.h>
#include <string.h>

#include "../records.h"

#define MAXF 4096

typedef struct {
  char *fields[MAXF];
  size_t nf;                /* fields written */
  size_t rec_end[MAXF];     /* after each record: how many fields so far */
  size_t nr;
} expect_t;

/* Up to 255 bytes from the input as a field, without NUL (records are
 * NUL-separated) and never empty (an empty field ends a record). */
static char *take_field(const uint8_t **d, size_t *n)
{
  size_t want = *n ? (size_t)(**d) % 64 + 1 : 1;
  if (*n) { (*d)++; (*n)--; }
  char *f = malloc(want + 1);
  size_t o = 0;
  for (; o < want && *n; (*d)++, (*n)--) f[o++] = **d ? (char)**d : 'z';
  if (!o) f[o++] = 'a';
  f[o] = 0;
  return f;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static expect_t e;
  e.nf = e.nr = 0;
  recbuf_t b = {0};
  size_t open = 0; /* fields of the record being written */
  while (size && e.nf + 4 < MAXF && e.nr + 2 < MAXF) {
    uint8_t op = *data++;
    size--;
    switch (op % 4) {
    case 0: { /* a field */
      char *f = take_field(&data, &size);
      recbuf_field(&b, f);
      e.fields[e.nf++] = f;
      open++;
      break;
    }
    case 1: /* the end of a record (only of a record with fields: an empty one is malformed) */
      if (!open) break;
      recbuf_end(&b);
      e.rec_end[e.nr++] = e.nf;
      open = 0;
      break;
    case 2: { /* a whole record, after finishing the open one */
      if (open) { recbuf_end(&b); e.rec_end[e.nr++] = e.nf; open = 0; }
      char *a = take_field(&data, &size), *c = take_field(&data, &size);
      recbuf_record(&b, a, c, NULL);
      e.fields[e.nf++] = a;
      e.fields[e.nf++] = c;
      e.rec_end[e.nr++] = e.nf;
      break;
    }
    case 3: { /* a marker: records encoded elsewhere, copied whole */
      if (open) { recbuf_end(&b); e.rec_end[e.nr++] = e.nf; open = 0; }
      recbuf_t m = {0};
      char *f = take_field(&data, &size);
      recbuf_record(&m, f, NULL);
      recbuf_bytes(&b, m.buf, m.len);
      recbuf_bytes(&b, m.buf, 0);
      free(m.buf);
      e.fields[e.nf++] = f;
      e.rec_end[e.nr++] = e.nf;
      break;
    }
    }
  }
  if (open) { recbuf_end(&b); e.rec_end[e.nr++] = e.nf; }
  records_t r;
  if (records_parse(b.buf, b.len, &r) < 0) abort();
  if (r.n != e.nr) abort();
  size_t f = 0;
  for (size_t i = 0; i < r.n; i++) {
    size_t want = e.rec_end[i] - (i ? e.rec_end[i - 1] : 0);
    if (r.recs[i].nfields != want) abort();
    for (size_t k = 0; k < want; k++, f++)
      if (strcmp(r.recs[i].fields[k], e.fields[f])) abort();
  }
  free(r.recs), free(r.field_store);
  for (size_t i = 0; i < e.nf; i++) free(e.fields[i]);
  free(b.buf);
  return 0;
}

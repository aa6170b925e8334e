#include "records.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <string.h>

#include "abi.h"
#include "util.h"

int records_parse(const uint8_t *buf, size_t len, records_t *out)
{
  return records_parse_max(buf, len, FHS_RECORDS_CAP, out);
}

/* Both passes step from NUL to NUL a block at a time, not byte by byte:
 * every launch parses its manifest, its policy input and its plan (musl's
 * memchr, restarted for every short field, was no faster than the byte
 * loop). The scanner yields the offsets of the NULs in order, from a mask
 * of the NULs in each block of 16 bytes (SSE2, which every x86-64 CPU has;
 * else eight bytes at a time in plain C); it reads only inside the buffer. */
typedef struct {
  const uint8_t *buf;
  size_t len, base; /* base: the offset `bits` describes */
  uint64_t bits;    /* one bit per NUL of the block at base not yet yielded */
} nulscan_t;

#ifdef __SSE2__
#include <emmintrin.h>
#define NUL_BLOCK 16
#define NUL_SHIFT 0
static uint64_t nul_block(const uint8_t *p)
{
  __m128i v = _mm_loadu_si128((const __m128i *)p);
  return (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_setzero_si128()));
}
#else
#define NUL_BLOCK 8
#define NUL_SHIFT 3 /* bit 8k+7 marks byte k */
static uint64_t nul_block(const uint8_t *p)
{
  uint64_t w;
  memcpy(&w, p, 8);
  /* Exact (no false positive above a NUL, unlike the borrow trick): a byte
   * gets 0x80 iff it is 0. */
  const uint64_t low7 = 0x7f7f7f7f7f7f7f7fULL;
  uint64_t t = ~(((w & low7) + low7) | w | low7);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  t = __builtin_bswap64(t); /* the lowest address last */
#endif
  return t;
}
#endif

static uint64_t nul_bits(const uint8_t *buf, size_t len, size_t at)
{
  if (len - at >= NUL_BLOCK) return nul_block(buf + at);
  uint8_t tail[NUL_BLOCK];
  memset(tail, 0xff, sizeof tail); /* past the end: no NUL */
  memcpy(tail, buf + at, len - at);
  return nul_block(tail);
}

static void nulscan_init(nulscan_t *s, const uint8_t *buf, size_t len)
{
  s->buf = buf;
  s->len = len;
  s->base = 0;
  s->bits = len ? nul_bits(buf, len, 0) : 0;
}

static inline bool nulscan_next(nulscan_t *s, size_t *pos)
{
  while (!s->bits) {
    if (s->len - s->base <= NUL_BLOCK) return false;
    s->base += NUL_BLOCK;
    /* Whole blocks in the loop; the short tail once, at the end. */
    while (!s->bits && s->len - s->base >= NUL_BLOCK) {
      s->bits = nul_block(s->buf + s->base);
      if (!s->bits) s->base += NUL_BLOCK;
    }
    if (!s->bits) {
      if (s->base >= s->len) return false;
      s->bits = nul_bits(s->buf, s->len, s->base);
      if (!s->bits) return false;
    }
  }
  *pos = s->base + ((size_t)__builtin_ctzll(s->bits) >> NUL_SHIFT);
  s->bits &= s->bits - 1;
  return true;
}

int records_count(const uint8_t *buf, size_t len, size_t max_records, size_t *nrecs_out, size_t *nfields_out)
{
  *nrecs_out = *nfields_out = 0;
  if (len == 0) return 0;
  if (buf[len - 1] != 0) return -1;
  size_t nfields = 0, nrecs = 0, start = 0, i;
  bool open = false;
  nulscan_t s;
  nulscan_init(&s, buf, len);
  while (nulscan_next(&s, &i)) {
    if (i == start) {
      if (!open) return -1;
      /* The tables cost 24 bytes a record: a file of tiny records must not
       * cost many times its size in memory. */
      if (++nrecs > max_records) { errno = E2BIG; return -1; }
      open = false;
    } else {
      if (++nfields > 4 * max_records) { errno = E2BIG; return -1; }
      open = true;
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
  size_t f = 0, r = 0, first = 0, start = 0, i;
  nulscan_t s;
  nulscan_init(&s, buf, len);
  while (nulscan_next(&s, &i)) {
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

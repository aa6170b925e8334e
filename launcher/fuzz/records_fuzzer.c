/* libFuzzer harness: the record parser (records.c), which reads every
 * manifest, marker, plan-cache entry and policy answer a launch sees.
 * Properties: never crashes, never reads outside the input; a stream it
 * accepts is exactly what re-encoding its records gives back; the record cap
 * holds. Built by `make -C launcher fuzz` (clang); run by test/fuzz.test.ts. */
#include <stdlib.h>
#include <string.h>

#include "../records.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  /* The parser's fields point into the buffer; a copy of exactly `size`
   * bytes lets ASan see any read past its end. */
  uint8_t *buf = malloc(size ? size : 1);
  memcpy(buf, data, size);
  records_t r;
  if (records_parse(buf, size, &r) == 0) {
    recbuf_t again = {0};
    for (size_t i = 0; i < r.n; i++) {
      if (r.recs[i].nfields == 0) abort(); /* an empty record ends none */
      for (size_t f = 0; f < r.recs[i].nfields; f++) recbuf_field(&again, r.recs[i].fields[f]);
      recbuf_end(&again);
    }
    if (again.len != size || (size && memcmp(again.buf, buf, size))) abort();
    free(again.buf);
    free(r.recs), free(r.field_store);
  }
  /* A tiny cap: the count check must hold wherever the input ends. */
  if (records_parse_max(buf, size, 3, &r) == 0) {
    if (r.n > 3) abort();
    free(r.recs), free(r.field_store);
  }
  free(buf);
  return 0;
}

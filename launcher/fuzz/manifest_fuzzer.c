/* libFuzzer harness: the manifest decoder, as a launch runs it: the file read
 * under its size cap (util.c read_file, here from a memfd), parsed under the
 * manifest's record cap, checked for its header, its layer records admitted
 * (validate.c allow_layers), and its records re-encoded into the policy's
 * input (facts.c add_manifest_facts), as a launch does.
 * Properties: never crashes, never reads outside the input; a manifest past
 * the record cap is refused; every admitted layer is an absolute, normalized
 * path; the policy input holds as many records as were copied into it.
 * die() is wrapped (-Wl,--wrap=die): a refusal returns here instead of
 * exiting. Built by `make -C launcher fuzz` (clang); run by test/fuzz.test.ts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../facts.h"
#include "../validate.h"
#include "../abi.h"
#include "../records.h"
#include "../util.h"

static jmp_buf refused;
void __wrap_die(int code, const char *fmt, ...) { (void)code; (void)fmt; longjmp(refused, 1); }
void __wrap_die_errno(int code, const char *fmt, ...) { (void)code; (void)fmt; longjmp(refused, 1); }

static int memfd = -1;

static void check_layer(const char *p)
{
  if (p[0] != '/' || strstr(p, "//") || strstr(p, "/./") || strstr(p, "/../")) abort();
  size_t l = strlen(p);
  if (l > 1 && p[l - 1] == '/') abort();
  if ((l >= 2 && !strcmp(p + l - 2, "/.")) || (l >= 3 && !strcmp(p + l - 3, "/.."))) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (memfd < 0 && (memfd = memfd_create("manifest", MFD_CLOEXEC)) < 0) abort();
  if (ftruncate(memfd, 0) < 0 || pwrite(memfd, data, size, 0) != (ssize_t)size) abort();
  char path[64];
  snprintf(path, sizeof path, "/proc/self/fd/%d", memfd);
  size_t len = 0;
  uint8_t *bytes = read_file(path, FHS_MANIFEST_SIZE_CAP, &len);
  if (!bytes) abort(); /* a regular file under the cap is always read */
  if (len != size || (size && memcmp(bytes, data, size))) abort();

  /* In memory (their addresses are taken), so kept across a refusal's longjmp. */
  records_t manifest;
  allowed_t allowed;
  memset(&allowed, 0, sizeof allowed);
  recbuf_t in = {0};
  int r = records_parse_max(bytes, len, FHS_MANIFEST_RECORDS_CAP, &manifest);
  if (r == 0 && manifest.n > FHS_MANIFEST_RECORDS_CAP) abort();
  if (r == 0 && manifest.n >= 2 && !strcmp(manifest.recs[0].fields[0], "fhs-manifest")) {
    verdict_t v;
    if (!setjmp(refused) && allow_layers(&allowed, &manifest, "layer", &v)) {
      size_t layers = 0;
      for (size_t i = 0; i < manifest.n; i++)
        if (manifest.recs[i].nfields == 4 && !strcmp(manifest.recs[i].fields[0], "layer")) layers++;
      if (allowed.n != layers) abort();
      for (size_t i = 0; i < allowed.n; i++) check_layer(allowed.paths[i]);
      /* The policy's input, as launch() builds it. */
      size_t copied = 1;
      recbuf_record(&in, "req", "launch", NULL);
      add_manifest_facts(&in, &manifest);
      for (size_t i = 0; i < manifest.n; i++) {
        const char *k = manifest.recs[i].fields[0];
        if (strcmp(k, "fhs-manifest") && strcmp(k, "policy") && strcmp(k, "program") && strcmp(k, "pkg") && strcmp(k, "end")) copied++;
        if (manifest_record_forwarded(k) != (strcmp(k, "fhs-manifest") && strcmp(k, "policy") && strcmp(k, "program") && strcmp(k, "pkg") && strcmp(k, "end"))) abort();
      }
      records_t back;
      if (records_parse(in.buf, in.len, &back) < 0 || back.n != copied) abort();
      free(back.recs), free(back.field_store);
    }
  }
  allowed_free(&allowed);
  free(in.buf);
  if (r == 0) free(manifest.recs), free(manifest.field_store);
  free(bytes);
  return 0;
}

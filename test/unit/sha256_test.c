/* Unit tests of launcher/sha256.c: both implementations (the portable C code
 * and the x86 SHA extensions) on the standard test vectors (FIPS 180-4's
 * examples, NIST's byte-oriented vectors), and against each other on random
 * inputs of every length around the block and padding edges. On a CPU
 * without the extensions no case is skipped: there the SHA path must refuse
 * (no test can run an instruction the CPU lacks) and the choice by cpuid must
 * be the C code, agreeing with it. Built and run by
 * `make -C launcher unit`; test/unit.test.ts runs it. TAP output. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sha256.h"

#include "tap.h"

/* A deterministic generator: the same inputs on every run, so a failure
 * can be reproduced. */
static unsigned long long seed = 0x9e3779b97f4a7c15ULL;
static unsigned char rnd(void)
{
  seed ^= seed << 13;
  seed ^= seed >> 7;
  seed ^= seed << 17;
  return (unsigned char)(seed >> 24);
}

typedef struct {
  const char *text; /* repeated `times` times */
  size_t times;
  const char *hex;
} vector_t;

static const vector_t VECTORS[] = {
    {"", 1, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
    {"abc", 1, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
    {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 1, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
    {"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu", 1,
     "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"},
    {"a", 1000000, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"},
    /* One and two blocks of padding: 55 and 56 bytes. */
    {"a", 55, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318"},
    {"a", 56, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a"},
    {"a", 64, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb"},
};

static int run(int impl, const unsigned char *data, size_t len, char out[65])
{
  return sha256_hex_impl(impl, data, len, out);
}

int main(void)
{
  const size_t nvec = sizeof VECTORS / sizeof VECTORS[0];
  const size_t nlens = 300;
  printf("1..%zu\n", 3 * nvec + 2);
  static const struct {
    int impl;
    const char *name;
  } IMPLS[] = {{SHA256_GENERIC, "C"}, {SHA256_SHANI, "SHA extensions"}, {SHA256_AUTO, "chosen by cpuid"}};
  bool shani = sha256_cpu_has_shani();
  for (size_t k = 0; k < 3; k++) {
    for (size_t v = 0; v < nvec; v++) {
      size_t tl = strlen(VECTORS[v].text), len = tl * VECTORS[v].times;
      unsigned char *buf = malloc(len + 1);
      for (size_t i = 0; i < VECTORS[v].times; i++) memcpy(buf + i * tl, VECTORS[v].text, tl);
      char out[65] = "", name[160], detail[200];
      snprintf(name, sizeof name, "%s: sha256 of %zu x \"%.20s%s\"", IMPLS[k].name, VECTORS[v].times, VECTORS[v].text,
               tl > 20 ? "..." : "");
      if (!run(IMPLS[k].impl, buf, len, out)) {
        /* Only the SHA path may refuse, and only on a CPU without it. */
        strncat(name, " (refused: this CPU lacks the SHA extensions)", sizeof name - strlen(name) - 1);
        report(IMPLS[k].impl == SHA256_SHANI && !shani, name, "refused where it must run");
      } else {
        snprintf(detail, sizeof detail, "got %s, expected %s", out, VECTORS[v].hex);
        report(!strcmp(out, VECTORS[v].hex), name, detail);
      }
      free(buf);
    }
  }
  /* Random inputs of every length from 0 to nlens (each edge of the block
   * and the padding), then a few large ones: all implementations agree. */
  int agree = 1;
  char detail[300] = "";
  unsigned char *buf = malloc(1 << 20);
  for (size_t len = 0; len <= nlens + 8 && agree; len++) {
    size_t l = len <= nlens ? len : (size_t)1 << (12 + (len - nlens));
    for (size_t i = 0; i < l; i++) buf[i] = rnd();
    char a[65], b[65], c[65];
    run(SHA256_GENERIC, buf, l, a);
    if (!shani) strcpy(b, a); /* no SHA path here: the chosen one must be C's */
    else run(SHA256_SHANI, buf, l, b);
    run(SHA256_AUTO, buf, l, c);
    if (strcmp(a, b) || strcmp(a, c)) {
      agree = 0;
      snprintf(detail, sizeof detail, "length %zu: C %s, SHA extensions %s, chosen %s", l, a, b, c);
    }
  }
  report(agree,
         shani ? "random inputs of 0-300 bytes and 8 KiB-1 MiB: the C code, the SHA extensions and the choice agree"
               : "random inputs of 0-300 bytes and 8 KiB-1 MiB: the choice (no SHA extensions here) agrees with the C code",
         detail);
  /* A misaligned start: the loads are unaligned. */
  for (size_t i = 0; i < 4096; i++) buf[i] = rnd();
  char a[65], b[65];
  run(SHA256_GENERIC, buf + 3, 4093, a);
  if (run(SHA256_SHANI, buf + 3, 4093, b)) report(!strcmp(a, b), "an input at an odd address: both agree", b);
  else report(!shani, "an input at an odd address: the SHA path refuses (this CPU lacks it)", "refused where it must run");
  free(buf);
  if (tap_failed) printf("# %d of %d failed\n", tap_failed, tap_count);
  return tap_failed ? 1 : 0;
}

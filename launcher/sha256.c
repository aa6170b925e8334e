#include "sha256.h"

#include <stdbool.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <immintrin.h>
#define HAVE_SHANI_PATH 1
#endif

static const uint32_t K[64] = {
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

/* The portable path, for any CPU. */
static void block(uint32_t h[8], const uint8_t *p)
{
  uint32_t w[64];
  for (int i = 0; i < 16; i++)
    w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
  for (int i = 16; i < 64; i++) {
    uint32_t s0 = ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ (w[i - 15] >> 3);
    uint32_t s1 = ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10);
    w[i] = w[i - 16] + s0 + w[i - 7] + s1;
  }
  uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
  for (int i = 0; i < 64; i++) {
    uint32_t t1 = k + (ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i];
    uint32_t t2 = (ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
    k = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
  }
  h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += k;
}

static void blocks_generic(uint32_t h[8], const uint8_t *p, size_t n)
{
  for (; n; n--, p += 64) block(h, p);
}

#ifdef HAVE_SHANI_PATH
/* The x86 SHA extensions: four rounds per pair of sha256rnds2, the message
 * schedule by sha256msg1/msg2. The state lives as ABEF and CDGH, the order
 * the instructions want. Only called when cpuid says the CPU has them
 * (and SSSE3 and SSE4.1, for the byte shuffle and the blends). */
__attribute__((target("sha,ssse3,sse4.1"))) static void blocks_shani(uint32_t h[8], const uint8_t *p, size_t n)
{
  const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
  __m128i tmp = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&h[0]), 0xB1); /* CDAB */
  __m128i st1 = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&h[4]), 0x1B); /* EFGH */
  __m128i st0 = _mm_alignr_epi8(tmp, st1, 8);                                     /* ABEF */
  st1 = _mm_blend_epi16(st1, tmp, 0xF0);                                          /* CDGH */
  for (; n; n--, p += 64) {
    __m128i abef = st0, cdgh = st1;
    __m128i w[4];
    for (int j = 0; j < 16; j++) {
      __m128i m;
      if (j < 4) {
        m = w[j] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16 * j)), bswap);
      } else {
        /* w[j] = w[j-16] + s0(w[j-15]) + w[j-7] + s1(w[j-2]), four at a time. */
        __m128i t = _mm_add_epi32(_mm_sha256msg1_epu32(w[j & 3], w[(j + 1) & 3]), _mm_alignr_epi8(w[(j + 3) & 3], w[(j + 2) & 3], 4));
        m = w[j & 3] = _mm_sha256msg2_epu32(t, w[(j + 3) & 3]);
      }
      m = _mm_add_epi32(m, _mm_loadu_si128((const __m128i *)&K[4 * j]));
      st1 = _mm_sha256rnds2_epu32(st1, st0, m);
      st0 = _mm_sha256rnds2_epu32(st0, st1, _mm_shuffle_epi32(m, 0x0E));
    }
    st0 = _mm_add_epi32(st0, abef);
    st1 = _mm_add_epi32(st1, cdgh);
  }
  tmp = _mm_shuffle_epi32(st0, 0x1B);   /* FEBA */
  st1 = _mm_shuffle_epi32(st1, 0xB1);   /* DCHG */
  st0 = _mm_blend_epi16(tmp, st1, 0xF0); /* DCBA */
  st1 = _mm_alignr_epi8(st1, tmp, 8);   /* HGFE */
  _mm_storeu_si128((__m128i *)&h[0], st0);
  _mm_storeu_si128((__m128i *)&h[4], st1);
}

/* Asked once per process, and only for an input worth it: cpuid traps to
 * the hypervisor in a VM, the three below cost 4-9 us together on 2-core
 * VMs, where the C code hashes 4.3 us a KiB and the extensions 0.9: worth
 * it from about 2 KiB (a 10-layer launch's plan-cache key hashes 5). Once
 * asked, every later input takes the extensions (the marker layer's name,
 * 2-3 KiB). */
#define SHANI_MIN_LEN 2048
static int shani_known = -1;

bool sha256_cpu_has_shani(void)
{
  if (shani_known < 0) {
    unsigned a, b, c, d, max;
    __cpuid(0, max, b, c, d);
    bool ok = false;
    if (max >= 7) {
      __cpuid(1, a, b, c, d);
      bool sse = (c & bit_SSSE3) && (c & bit_SSE4_1);
      __cpuid_count(7, 0, a, b, c, d);
      ok = sse && (b & bit_SHA);
    }
    shani_known = ok;
  }
  return shani_known;
}
#else
bool sha256_cpu_has_shani(void) { return false; }
#endif

static void sha256_run(int impl, const uint8_t *data, size_t len, char out[65])
{
  void (*blocks)(uint32_t *, const uint8_t *, size_t) = blocks_generic;
#ifdef HAVE_SHANI_PATH
  if (impl == SHA256_SHANI || (impl == SHA256_AUTO && (shani_known == 1 || (len >= SHANI_MIN_LEN && sha256_cpu_has_shani())))) blocks = blocks_shani;
#else
  (void)impl;
#endif
  uint32_t h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  size_t i = len & ~(size_t)63;
  blocks(h, data, len / 64);
  uint8_t tail[128] = {0};
  size_t rem = len - i;
  memcpy(tail, data + i, rem);
  tail[rem] = 0x80;
  size_t tlen = rem + 9 <= 64 ? 64 : 128;
  uint64_t bits = (uint64_t)len * 8;
  for (int j = 0; j < 8; j++) tail[tlen - 1 - j] = (uint8_t)(bits >> (8 * j));
  blocks(h, tail, tlen / 64);
  static const char hex[] = "0123456789abcdef";
  for (int j = 0; j < 32; j++) {
    uint8_t byte = (uint8_t)(h[j / 4] >> (24 - 8 * (j % 4)));
    out[2 * j] = hex[byte >> 4];
    out[2 * j + 1] = hex[byte & 15];
  }
  out[64] = 0;
}

void sha256_hex(const uint8_t *data, size_t len, char out[65]) { sha256_run(SHA256_AUTO, data, len, out); }

bool sha256_hex_impl(int impl, const uint8_t *data, size_t len, char out[65])
{
  if (impl == SHA256_SHANI && !sha256_cpu_has_shani()) return false;
  sha256_run(impl, data, len, out);
  return true;
}

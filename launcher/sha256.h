#pragma once
#include <stddef.h>
#include <stdint.h>

/* SHA-256 of a buffer, as 64 lowercase hex digits plus NUL. Written here rather
 * than linked from a crypto library so that the static launcher depends on
 * nothing; it hashes one small policy module per launch. */
void sha256_hex(const uint8_t *data, size_t len, char out[65]);

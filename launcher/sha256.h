#pragma once
#include <stddef.h>
#include <stdint.h>

/* SHA-256 of a buffer, as 64 lowercase hex digits plus NUL. Written here rather
 * than linked from a crypto library so that the static launcher depends on
 * nothing; it hashes one small policy module per launch. */
void sha256_hex(const uint8_t *data, size_t len, char out[65]);

/* The implementations sha256_hex chooses between, by cpuid: the portable C
 * code, and the x86 SHA extensions for inputs of 3 KiB or more when the CPU
 * has them (the plan cache's key hashes a launch's whole policy input, every
 * launch). For the unit tests: false when IMPL cannot run on this CPU. */
#include <stdbool.h>
enum { SHA256_AUTO, SHA256_GENERIC, SHA256_SHANI };
bool sha256_hex_impl(int impl, const uint8_t *data, size_t len, char out[65]);
bool sha256_cpu_has_shani(void);

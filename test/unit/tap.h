/* TAP output for the C unit tests in test/unit: each check is one
 * report(), numbered in order; main prints the plan first and returns
 * tap_failed != 0. */
#pragma once
#include <stdio.h>

static int tap_count, tap_failed;

/* "ok N - name", or "not ok N - name" and the detail (when there is one). */
static void report(int pass, const char *name, const char *detail)
{
  printf("%s %d - %s\n", pass ? "ok" : "not ok", ++tap_count, name);
  if (!pass) {
    tap_failed++;
    if (detail && *detail) printf("#   %s\n", detail);
  }
}

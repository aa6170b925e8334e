/* Limits every policy module is held to. They mirror src/policy/limits.ts;
 * test/foundation.test.ts checks that the two agree. */
#pragma once

#define FHS_ABI_VERSION 1
/* Linear memory cap in 64 KiB pages (16 MiB): wasm3 is built with it as
 * d_m3MaxLinearMemoryPages, so memory.grow past it fails inside the module. */
#define FHS_MEMORY_CAP_PAGES 256
#define FHS_EVAL_DEADLINE_MS 1000
#define FHS_MODULE_SIZE_CAP (64 * 1024)
/* Overlay refuses a 501st lower layer (OVL_MAX_STACK). */
#define FHS_MAX_LAYERS 500

/* Exit codes of the launcher itself, chosen outside the range programs
 * commonly use and documented in docs/LAUNCHER.md. */
#define FHS_EXIT_POLICY 122  /* the policy failed: hash, trap, deadline, bad result */
#define FHS_EXIT_PLAN 123    /* the plan broke an invariant and was refused */
#define FHS_EXIT_SETUP 125   /* namespaces, mounts, manifest, usage */
#define FHS_EXIT_NOEXEC 126  /* the program exists but could not be executed */
#define FHS_EXIT_NOENT 127   /* the program does not exist */

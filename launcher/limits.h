/* Limits every policy module is held to. They mirror src/policy/limits.ts;
 * test/foundation.test.ts checks that the two agree. */
#pragma once

#define FHS_ABI_VERSION 1
/* Linear memory cap in 64 KiB pages (16 MiB): wasm3 is built with it as
 * d_m3MaxLinearMemoryPages, so memory.grow past it fails inside the module. */
#define FHS_MEMORY_CAP_PAGES 256
#define FHS_EVAL_DEADLINE_MS 1000
#define FHS_MODULE_SIZE_CAP (64 * 1024)
/* What a launch reads and parses is bounded, so a hostile or broken file
 * costs a bounded amount of memory (a record costs 24 bytes of tables). A
 * manifest of 500 layers with long store paths is well under 1 MiB. */
#define FHS_MANIFEST_SIZE_CAP (4 << 20)
#define FHS_MANIFEST_RECORDS_CAP 65536
#define FHS_RECORDS_CAP (1 << 18)
/* Overlay refuses a 501st lower layer (OVL_MAX_STACK). */
#define FHS_MAX_LAYERS 500

/* Exit codes of the launcher itself, chosen outside the range programs
 * commonly use and documented in docs/LAUNCHER.md. */
#define FHS_EXIT_POLICY 122  /* the policy failed: hash, trap, deadline, bad result */
#define FHS_EXIT_PLAN 123    /* the plan broke an invariant and was refused */
#define FHS_EXIT_SETUP 125   /* namespaces, mounts, manifest, usage */
#define FHS_EXIT_NOEXEC 126  /* the program exists but could not be executed */
#define FHS_EXIT_NOENT 127   /* the program does not exist */

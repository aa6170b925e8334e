// Limits every policy module is held to, identical in both hosts. The launcher's
// copies live in launcher/limits.h; test/foundation.test.ts checks they agree.

/** The policy ABI version this fhs speaks. */
export const ABI_VERSION = 1;
/** Linear memory cap, in 64 KiB pages (16 MiB). A module must declare a maximum at or below it. */
export const MEMORY_CAP_PAGES = 256;
/** Wall-clock deadline for one evaluation, in milliseconds. */
export const EVAL_DEADLINE_MS = 1000;
/** Largest accepted policy module, in bytes. */
export const MODULE_SIZE_CAP = 64 * 1024;
/** Size budget for the default policy.wasm; wasm3 recompiles it at every launch. */
export const DEFAULT_POLICY_SIZE_BUDGET = 24 * 1024;
/** OverlayFS refuses a 501st lower layer (OVL_MAX_STACK); launcher/limits.h FHS_MAX_LAYERS. */
export const MAX_LAYERS = 500;

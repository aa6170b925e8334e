#include "policy.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "abi.h"
#include "m3_env.h" /* IM3Runtime internals: memoryLimit */
#include "util.h"
#include "wasm3.h"

/* The name of the policy being evaluated, for messages written from the
 * deadline's signal handler, which may only use async-signal-safe calls. */
static char deadline_message[512];
static size_t deadline_message_len;

static void on_deadline(int sig)
{
  (void)sig;
  /* Nothing outside this process's private namespaces has been touched yet,
   * so exiting here leaves nothing behind. */
  (void)!write(STDERR_FILENO, deadline_message, deadline_message_len);
  _exit(FHS_EXIT_POLICY);
}

/* The deadline is a POSIX timer of its own on CLOCK_MONOTONIC, signalling
 * SIGRTMIN, not ITIMER_REAL: the caller's pending alarm (setitimer, alarm)
 * survives execve and belongs to the program, so the launcher must neither
 * cancel it nor take its SIGALRM for a deadline. What the launcher changes
 * (the signal's action, whether it is blocked) is put back before exec. */
static timer_t deadline_timer;
static struct sigaction saved_action;
static sigset_t saved_mask;

static void arm_deadline(const char *name)
{
  int n = snprintf(deadline_message, sizeof deadline_message,
                   "fhs: policy %s: evaluation exceeded its %d ms deadline\n", name, FHS_EVAL_DEADLINE_MS);
  deadline_message_len = n > 0 && (size_t)n < sizeof deadline_message ? (size_t)n : 0;
  int sig = SIGRTMIN;
  struct sigaction sa = {.sa_handler = on_deadline};
  sigemptyset(&sa.sa_mask);
  if (sigaction(sig, &sa, &saved_action) < 0) die_errno(FHS_EXIT_SETUP, "sigaction for the policy deadline");
  /* A caller may have blocked it; the deadline must fire regardless. */
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, sig);
  if (sigprocmask(SIG_UNBLOCK, &set, &saved_mask) < 0) die_errno(FHS_EXIT_SETUP, "unblock the policy deadline's signal");
  struct sigevent ev = {.sigev_notify = SIGEV_SIGNAL, .sigev_signo = sig};
  if (timer_create(CLOCK_MONOTONIC, &ev, &deadline_timer) < 0) die_errno(FHS_EXIT_SETUP, "timer_create for the policy deadline");
  struct itimerspec it = {.it_value = {.tv_sec = FHS_EVAL_DEADLINE_MS / 1000, .tv_nsec = (FHS_EVAL_DEADLINE_MS % 1000) * 1000000L}};
  if (timer_settime(deadline_timer, 0, &it, NULL) < 0) die_errno(FHS_EXIT_SETUP, "arm the policy deadline");
}

static void disarm_deadline(void)
{
  if (timer_delete(deadline_timer) < 0) die_errno(FHS_EXIT_SETUP, "disarm the policy deadline");
  /* Deleting the timer discards a signal it queued but not yet delivered;
   * then the caller's action and mask come back as they were. */
  if (sigaction(SIGRTMIN, &saved_action, NULL) < 0) die_errno(FHS_EXIT_SETUP, "restore the deadline signal's action");
  if (sigprocmask(SIG_SETMASK, &saved_mask, NULL) < 0) die_errno(FHS_EXIT_SETUP, "restore the signal mask");
}

/* env.abort(msg, file, line, col): AssemblyScript's abort. The strings are
 * UTF-16 with their byte length in the 4 bytes before them. */
static char abort_message[512];

static void read_as_string(IM3Runtime runtime, uint32_t ptr, char *out, size_t cap)
{
  uint32_t size = 0;
  uint8_t *mem = m3_GetMemory(runtime, &size, 0);
  out[0] = 0;
  if (!mem || ptr < 4 || ptr > size) return;
  uint32_t blen;
  memcpy(&blen, mem + ptr - 4, 4);
  if (blen > size - ptr) return;
  size_t o = 0;
  for (uint32_t i = 0; i + 1 < blen && o + 1 < cap; i += 2) {
    uint16_t cu = (uint16_t)(mem[ptr + i] | mem[ptr + i + 1] << 8);
    out[o++] = cu >= 0x20 && cu < 0x7f ? (char)cu : '?';
  }
  out[o] = 0;
}

m3ApiRawFunction(host_abort)
{
  m3ApiGetArg(uint32_t, msg);
  m3ApiGetArg(uint32_t, file);
  m3ApiGetArg(uint32_t, line);
  m3ApiGetArg(uint32_t, col);
  (void)_ctx;
  (void)_mem;
  char m[256], f[200];
  read_as_string(runtime, msg, m, sizeof m);
  read_as_string(runtime, file, f, sizeof f);
  snprintf(abort_message, sizeof abort_message, "abort: %s at %s:%u:%u", m, f, line, col);
  m3ApiTrap(m3Err_trapAbort);
}

/* wasm3 resolves imports lazily: an import nobody links would only trap when
 * first called, deep inside an evaluation. Refuse it up front, with the same
 * words as the CLI's validator (src/policy/validate.ts). */
static void check_imports(IM3Module mod, const char *policy)
{
  for (uint32_t i = 0; i < mod->numFuncImports; i++) {
    const M3ImportInfo *imp = &mod->functions[i].import;
    const char *m = imp->moduleUtf8 ? imp->moduleUtf8 : "?", *f = imp->fieldUtf8 ? imp->fieldUtf8 : "?";
    if (strcmp(m, "env") || strcmp(f, "abort"))
      die(FHS_EXIT_POLICY, "policy %s: imports %s.%s; the only import allowed is env.abort", policy, m, f);
  }
  for (uint32_t i = 0; i < mod->numGlobals; i++)
    if (mod->globals[i].imported)
      die(FHS_EXIT_POLICY, "policy %s: imports a global; the only import allowed is env.abort", policy);
  if (mod->memoryImported) die(FHS_EXIT_POLICY, "policy %s: imports its memory; the only import allowed is env.abort", policy);
}

static const char *type_name(M3ValueType t)
{
  switch (t) {
  case c_m3Type_i32: return "i32";
  case c_m3Type_i64: return "i64";
  case c_m3Type_f32: return "f32";
  case c_m3Type_f64: return "f64";
  default: return "?";
  }
}

/* "(i32,i32)->(i32)", as the Node host's validator writes a signature. */
static void signature(IM3Function f, char *out, size_t n)
{
  size_t o = (size_t)snprintf(out, n, "(");
  for (uint32_t i = 0; i < m3_GetArgCount(f) && o < n; i++)
    o += (size_t)snprintf(out + o, n - o, "%s%s", i ? "," : "", type_name(m3_GetArgType(f, i)));
  if (o < n) o += (size_t)snprintf(out + o, n - o, ")->(");
  for (uint32_t i = 0; i < m3_GetRetCount(f) && o < n; i++)
    o += (size_t)snprintf(out + o, n - o, "%s%s", i ? "," : "", type_name(m3_GetRetType(f, i)));
  if (o < n) snprintf(out + o, n - o, ")");
}

static IM3Function find(IM3Runtime rt, const char *policy, const char *fn, uint32_t nargs, uint32_t nrets)
{
  IM3Function f = NULL;
  M3Result r = m3_FindFunction(&f, rt, fn);
  if (r)
    die(FHS_EXIT_POLICY, "policy %s: does not export %s; the ABI needs fhs_abi, fhs_alloc, fhs_eval, fhs_result_ptr, fhs_result_len",
        policy, fn);
  /* Every ABI function takes and returns i32s only. */
  bool ok = m3_GetArgCount(f) == nargs && m3_GetRetCount(f) == nrets;
  for (uint32_t i = 0; ok && i < nargs; i++) ok = m3_GetArgType(f, i) == c_m3Type_i32;
  for (uint32_t i = 0; ok && i < nrets; i++) ok = m3_GetRetType(f, i) == c_m3Type_i32;
  if (!ok) {
    char got[128], want[128] = "(";
    signature(f, got, sizeof got);
    for (uint32_t i = 0; i < nargs; i++) strcat(want, i ? ",i32" : "i32");
    strcat(want, nrets ? ")->(i32)" : ")->()");
    die(FHS_EXIT_POLICY, "policy %s: exports %s with signature %s, expected %s", policy, fn, got, want);
  }
  return f;
}

/* policy_trap_is_status: a trap in fhs_eval is a status, not the end. */
static bool trap_is_status;

void policy_trap_is_status(bool on) { trap_is_status = on; }

static const char *trap_text(M3Result r)
{
  if (r == m3Err_trapAbort && abort_message[0]) return abort_message;
  if (r == m3Err_trapStackOverflow) return "stack overflow";
  if (r == m3Err_trapOutOfBoundsMemoryAccess) return "out of bounds memory access";
  if (r == m3Err_trapUnreachable) return "unreachable executed";
  return r;
}

/* A trap ends the process, unless `trap` is given: then it is stored there
 * and 0 returned. */
static uint32_t call_u32(IM3Function f, const char *policy, const char *fn, uint32_t argc, const void **argv, M3Result *trap)
{
  M3Result r = m3_Call(f, argc, argv);
  if (r && trap) return *trap = r, 0;
  if (r) die(FHS_EXIT_POLICY, "policy %s: trapped in %s: %s", policy, fn, trap_text(r));
  uint32_t v = 0;
  const void *rets[] = {&v};
  r = m3_GetResults(f, 1, rets);
  if (r) die(FHS_EXIT_POLICY, "policy %s: %s returned no result: %s", policy, fn, r);
  return v;
}

static long long clock_ns(void)
{
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1000000000LL + t.tv_nsec;
}

/* FHS_DEBUG=timing: where a cold launch's policy time goes. setup_ns is
 * wasm3's environment, parse, load and link, and the compile of the exports
 * (m3_FindFunction compiles the function it finds); eval_ns the calls, with
 * the compile of every function they reach (wasm3 compiles a function when
 * first called); then how many functions and how many bytes of their code
 * were compiled, of the module's. */
static void report_timing(IM3Module mod, long long t0, long long t1, long long t2)
{
  uint32_t n = 0;
  size_t bytes = 0, all = 0;
  for (uint32_t i = 0; i < mod->numFunctions; i++) {
    const M3Function *f = &mod->functions[i];
    size_t b = f->wasm && f->wasmEnd > f->wasm ? (size_t)(f->wasmEnd - f->wasm) : 0;
    all += b;
    if (f->compiled && !f->import.moduleUtf8) {
      n++;
      bytes += b;
    }
  }
  char line[200];
  int k = snprintf(line, sizeof line, "fhs-timing-policy setup_ns=%lld eval_ns=%lld compiled=%u/%u compiled_bytes=%zu/%zu\n", t1 - t0,
                   t2 - t1, n, mod->numFunctions - mod->numFuncImports, bytes, all);
  if (k > 0 && (size_t)k < sizeof line) (void)!write(STDERR_FILENO, line, (size_t)k);
}

static IM3Environment kept_env;
static IM3Runtime kept_runtime;

void policy_eval(const char *name, const uint8_t *wasm, size_t wasm_len,
                 const uint8_t *input, size_t input_len, policy_result_t *out)
{
  if (wasm_len > FHS_MODULE_SIZE_CAP)
    die(FHS_EXIT_POLICY, "policy %s: module is %zu bytes, the cap is %d", name, wasm_len, FHS_MODULE_SIZE_CAP);
  const char *debug = getenv("FHS_DEBUG");
  bool timing = debug && !strcmp(debug, "timing");
  long long t0 = timing ? clock_ns() : 0;
  arm_deadline(name);

  IM3Environment env = m3_NewEnvironment();
  if (!env) die(FHS_EXIT_POLICY, "policy %s: cannot create a wasm3 environment", name);
  /* 64 KiB of wasm stack: deep enough for any honest policy, and runaway
   * recursion traps as a stack overflow instead of exhausting the process. */
  IM3Runtime rt = m3_NewRuntime(env, 64 * 1024, NULL);
  if (!rt) die(FHS_EXIT_POLICY, "policy %s: cannot create a wasm3 runtime", name);
  rt->memoryLimit = FHS_MEMORY_CAP_PAGES * 65536u;

  IM3Module mod = NULL;
  M3Result r = m3_ParseModule(env, &mod, wasm, (uint32_t)wasm_len);
  if (r) die(FHS_EXIT_POLICY, "policy %s: not a valid module: %s", name, r);
  check_imports(mod, name);
  /* The same memory rule as the Node host's validator. A declared maximum
   * is required (0 pages parsed means none was given, unless the minimum is
   * 0 too); wasm3's build-time cap would stop growth anyway. */
  if (mod->memoryInfo.maxPages == 0 && mod->memoryInfo.initPages > 0)
    die(FHS_EXIT_POLICY, "policy %s: its memory declares no maximum; at most %d pages is allowed", name, FHS_MEMORY_CAP_PAGES);
  if (mod->memoryInfo.maxPages > FHS_MEMORY_CAP_PAGES)
    die(FHS_EXIT_POLICY, "policy %s: its memory declares a maximum of %u pages; at most %d is allowed", name,
        mod->memoryInfo.maxPages, FHS_MEMORY_CAP_PAGES);
  r = m3_LoadModule(rt, mod);
  if (r) die(FHS_EXIT_POLICY, "policy %s: cannot load: %s", name, r);
  r = m3_LinkRawFunction(mod, "env", "abort", "v(iiii)", &host_abort);
  if (r && r != m3Err_functionLookupFailed) die(FHS_EXIT_POLICY, "policy %s: cannot link env.abort: %s", name, r);

  IM3Function f_abi = find(rt, name, "fhs_abi", 0, 1);
  IM3Function f_alloc = find(rt, name, "fhs_alloc", 1, 1);
  IM3Function f_eval = find(rt, name, "fhs_eval", 2, 1);
  IM3Function f_rptr = find(rt, name, "fhs_result_ptr", 0, 1);
  IM3Function f_rlen = find(rt, name, "fhs_result_len", 0, 1);

  long long t1 = timing ? clock_ns() : 0;

  uint32_t abi = call_u32(f_abi, name, "fhs_abi", 0, NULL, NULL);
  if (abi != FHS_ABI_VERSION) die(FHS_EXIT_POLICY, "policy %s: ABI version %u, this fhs speaks %d", name, abi, FHS_ABI_VERSION);

  uint32_t len32 = (uint32_t)input_len;
  const void *alloc_args[] = {&len32};
  uint32_t ptr = call_u32(f_alloc, name, "fhs_alloc", 1, alloc_args, NULL);
  uint32_t size = 0;
  uint8_t *mem = m3_GetMemory(rt, &size, 0);
  if (!mem || ptr > size || input_len > size - ptr)
    die(FHS_EXIT_POLICY, "policy %s: alloc buffer out of bounds (ptr %u, len %zu, memory %u bytes)", name, ptr, input_len, size);
  memcpy(mem + ptr, input, input_len);

  const void *eval_args[] = {&ptr, &len32};
  M3Result trap = NULL;
  uint32_t status = call_u32(f_eval, name, "fhs_eval", 2, eval_args, trap_is_status ? &trap : NULL);
  if (trap) {
    /* Asked for as a status (a stage-1 input, launch.c): no result. */
    disarm_deadline();
    out->status = POLICY_TRAPPED;
    out->bytes = NULL;
    out->len = 0;
    kept_env = env;
    kept_runtime = rt;
    return;
  }
  uint32_t rptr = call_u32(f_rptr, name, "fhs_result_ptr", 0, NULL, NULL);
  uint32_t rlen = call_u32(f_rlen, name, "fhs_result_len", 0, NULL, NULL);
  /* Memory may have grown (and moved) during evaluation. */
  mem = m3_GetMemory(rt, &size, 0);
  if (!mem || rptr > size || rlen > size - rptr)
    die(FHS_EXIT_POLICY, "policy %s: result buffer out of bounds (ptr %u, len %u, memory %u bytes)", name, rptr, rlen, size);
  disarm_deadline();
  if (timing) report_timing(mod, t0, t1, clock_ns());

  out->status = (int)status;
  out->len = rlen;
  out->bytes = xmalloc(rlen);
  memcpy(out->bytes, mem + rptr, rlen);

  /* wasm3's environment and runtime are not freed: every caller execs or
   * exits right after one evaluation, and freeing them (code pages, the wasm
   * stack, linear memory: munmap and free) measured 0.15-0.2 ms of a cold
   * launch's policy time for nothing. Kept reachable for leak checkers. */
  kept_env = env;
  kept_runtime = rt;
}

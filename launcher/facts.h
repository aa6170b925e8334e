/* The one fact gatherer (facts.c): identity, the manifest, the policy
 * module, and the records a policy is asked with. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "records.h"

/* Finds the package a wrapper belongs to by following the symlink chain from
 * `path` to the link that points at <pkg>/.fhs/.fhs-launcher. On success
 * *pkg and *rel (bin/hello) are set (malloc'd) and it returns true. */
bool find_wrapper(const char *path, char **pkg, char **rel);

/* Reads and parses a compiled manifest, checking its format; exits 125 naming
 * the package on any problem. */
void load_manifest(const char *pkg, const char *mpath, records_t *manifest);
/* The value of the first `KIND VALUE` record, or NULL. */
const char *manifest_value(const records_t *recs, const char *kind);

/* Reads the module the `policy PATH SHA256` record of `recs` names and checks
 * its hash: wasm3 trusts its input, so only a module the CLI validated may
 * reach it. `what` names the records' file in messages. Exits 122/125. */
/* The manifest's `policy PATH SHA256` record; exits 125 when there is none. */
void policy_record(const records_t *recs, const char *what, const char **path, const char **want);
uint8_t *read_verified_policy(const records_t *recs, const char *what, const char **path_out, size_t *len_out,
                              const char **sha_out);

/* Whether a manifest record of this kind is policy input. */
bool manifest_record_forwarded(const char *kind);
/* The compiled manifest's records that are policy input (launch and fuzzer). */
void add_manifest_facts(recbuf_t *in, const records_t *manifest);
/* `host NAME TYPE [TARGET]` for each top-level entry of "/". */
void add_host_entries(recbuf_t *in);

/* A launch's facts: the policy's input and what the validator needs of them. */
typedef struct {
  recbuf_t in;          /* the policy's input, `req launch` first */
  uint8_t *view;        /* the current view's marker, if any */
  size_t view_len;
  records_t viewrecs;   /* its records (or --inside's) */
  bool shadowed;        /* /usr/<rel> here is not the package's own program */
  bool marker_in_usr;   /* the current view is in place: its marker is in /usr */
  const char *host_etc_kept; /* the copy of the host's /etc the current view kept, or NULL */
  bool partial;         /* `in` is stage 1: it ends `facts partial`, no host facts yet */
  size_t partial_at;    /* where in `in` that record starts */
  size_t host_at;       /* where in `in` the host's facts start (the validator's `host` records) */
} facts_t;

/* Gathers a launch's facts. `inside` (fhs plan --inside): view records to
 * plan within instead of the current view's marker. `stage1`: inside a view
 * (a marker found and read), stop before the host's facts and end the input
 * with `facts partial` (f->partial set); elsewhere, and without `stage1`,
 * every fact is gathered. */
void gather_launch_facts(facts_t *f, const char *pkg, const char *relprog, const records_t *manifest, const uint8_t *inside,
                         size_t inside_len, bool stage1);
/* Stage 2: replaces a stage-1 input's `facts partial` with the host's facts
 * (the root listing, host-file, host-etc-file, host-etc-mounted), which
 * makes the same input a one-stage gather makes. */
void add_host_facts(facts_t *f, const records_t *manifest);

/* The file type (S_IFMT bits) add_host_etc_files saw for `rel` under the
 * host /etc at `host_etc` (the path it gathered from), so the view's /etc
 * links need not stat each again: 0 when it was not gathered there. */
unsigned host_etc_file_type(const char *host_etc, const char *rel);

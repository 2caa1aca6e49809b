/**
 * Kiln's thread pool, in C: `kiln_parallel(kernel, bases, rows, chunk,
 * threads)` runs kernel(bases, lo, hi) over [0, rows) in chunks of `chunk`
 * rows, on the calling thread and up to threads - 1 workers. Compiled once
 * per host with the system `cc` (codegen/llvm/pool.ts) and linked by every
 * CPU program; compiled into each node-cpu bundle object (codegen/bundle).
 *
 * Why not libgomp (issue 16, docs/benchmarks.md "Threads under contention"): its workers
 * spin a fixed count, and its closing barrier waits for a worker that another
 * process keeps off its core. Here:
 * - the caller takes chunks itself and only ever waits for chunks a worker has
 *   claimed and is running, never for a worker that has not arrived;
 * - idle workers spin for SPIN_NS after their last region, so the kernels of
 *   a step (microseconds apart) find them awake, then sleep on a futex, so
 *   an idle process costs no CPU; a worker that notices it was descheduled
 *   while spinning (the clock jumped) sleeps at once, and for NO_SPIN_NS all
 *   workers sleep as soon as their region ends: a core is wanted by another
 *   process, a spinning thread would take its time from the caller, and a
 *   sleeping one keeps the scheduler's preference when it is woken;
 * - the caller times every team region against the same kernel's time on the
 *   caller alone: when the team is no faster (a worker descheduled by another
 *   process), regions run on the caller alone for a while, doubling while
 *   probes keep failing, so a busy core costs at most its share.
 *
 * One claim word holds a region's generation, team size, chunk count and next
 * chunk: one atomic update claims a chunk and tells which region it belongs
 * to, so a late worker can never run a chunk of a region that has ended.
 */
export const POOL_C = String.raw`#define _GNU_SOURCE
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* Exported from the pool library; a bundle object compiles it with -DKILN_API= to keep its pool private. */
#ifndef KILN_API
#define KILN_API __attribute__((visibility("default")))
#endif
typedef void (*kiln_kernel)(void *bases, int64_t lo, int64_t hi);

enum { MAX_WORKERS = 254, MAX_CHUNKS = 32768 };
/* Idle workers spin this long after their last region, then sleep. */
#define SPIN_NS 1000000
/*
 * Team regions of a window that took this much longer in all than the caller
 * alone would have: give up the team without waiting for the window's end.
 * A team that has won windows may lose up to LOSS_NS: on a machine many
 * processes share, a worker (or the caller) is descheduled now and then for
 * a few milliseconds, and a team that stalls in some regions can still be
 * well ahead over a window. A team just back from a spell alone (a probe)
 * may lose only PROBE_LOSS_NS, doubling with each window it wins: with one
 * of two cores busy the team wins a window now and then and loses the next,
 * and each loss is then a couple of milliseconds, not twenty.
 */
#define LOSS_NS 20000000
#define PROBE_LOSS_NS 2000000
/* A spinning worker that sees this much time pass between two looks at the clock was descheduled: the core is wanted. */
#define PREEMPTED_NS 200000
/* After that, workers do not spin at all for this long: they sleep as soon as their region ends. */
#define NO_SPIN_NS 500000000
/* The caller waiting for workers' chunks spins this long, then sleeps until the last one is done (a woken thread is scheduled sooner than one that yields). */
#define WAIT_SPIN_NS 20000
/* The team is judged over windows of this many regions or this much caller-alone time. */
#define WINDOW_REGIONS 64
#define WINDOW_NS 5000000
/*
 * The team stays while it takes at most this share of the caller-alone time:
 * a team costs outside its regions too (waking workers, their share of the
 * cores), so one that barely wins inside them loses overall.
 */
#define TEAM_PAYS 0.9
/* Caller-alone spells: first length, and the cap they double to while probes fail (a probe a second while a core stays busy). */
#define SOLO_MIN_NS 4000000
#define SOLO_MAX_NS 1000000000

/* claim word: generation (24 bits) | team (8) | chunks (16) | next chunk (16) */
#define GEN_OF(t) ((uint32_t)((t) >> 40))
#define TEAM_OF(t) ((int)(((t) >> 32) & 0xff))
#define CHUNKS_OF(t) ((uint32_t)(((t) >> 16) & 0xffff))
#define NEXT_OF(t) ((uint32_t)((t) & 0xffff))

static _Atomic uint64_t claim;
static _Atomic uint32_t generation; /* futex word: the low 24 bits are the claim word's generation */
static _Atomic int sleepers;
static _Atomic int64_t spin_again_ns; /* until then, idle workers sleep without spinning */
static _Atomic uint32_t finished; /* chunks of the current region that workers have run; the caller sleeps on it */
static _Atomic int caller_sleeps;
static _Atomic(kiln_kernel) job_fn;
static _Atomic(void *) job_bases;
static _Atomic int64_t job_rows, job_chunk;

static _Atomic int caller_busy;
static __thread int thread_num; /* 0 on callers, 1.. on workers */
static pthread_mutex_t start_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic int started;
static int cap = -1;

/* The caller's view of contention (only touched with caller_busy held). */
static int solo;
/* A new team may lose LOSS_NS like an established one: its workers' first regions fault their scratch in. */
static int64_t solo_until, solo_for = SOLO_MIN_NS, loss_limit = LOSS_NS;
static int64_t window_team_ns, window_alone_ns;
static int window_regions;
static _Atomic uint64_t stats[6]; /* team regions, alone regions, fallbacks, probes, workers started, busy-caller regions */

static inline void relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ volatile("yield");
#endif
}

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void run_chunk(uint32_t index) {
  kiln_kernel fn = atomic_load(&job_fn);
  int64_t rows = atomic_load(&job_rows), chunk = atomic_load(&job_chunk);
  int64_t lo = (int64_t)index * chunk, hi = lo + chunk < rows ? lo + chunk : rows;
  fn(atomic_load(&job_bases), lo, hi);
}

/* The caller: claims and runs chunks until the claim word has none left; returns how many it ran. */
static uint32_t take_chunks(void) {
  uint32_t ran = 0;
  for (;;) {
    uint64_t t = atomic_fetch_add_explicit(&claim, 1, memory_order_acq_rel);
    if (NEXT_OF(t) >= CHUNKS_OF(t)) return ran;
    run_chunk(NEXT_OF(t));
    ran++;
  }
}

static void add_finished(uint32_t ran) {
  atomic_fetch_add(&finished, ran);
  if (atomic_load(&caller_sleeps)) syscall(SYS_futex, &finished, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

/*
 * A worker: the same, but a claim is a compare-and-swap that first checks the
 * worker belongs to the region's team, so that it never takes a chunk of a
 * later region with a smaller team (per-thread scratch has a slice per team
 * member only); it adds its chunks to the region's finished count.
 */
static void help(int id) {
  uint32_t ran = 0, gen = 0;
  uint64_t t = atomic_load_explicit(&claim, memory_order_acquire);
  for (;;) {
    if (ran && GEN_OF(t) != gen) {
      add_finished(ran);
      ran = 0;
    }
    if (id + 1 >= TEAM_OF(t) || NEXT_OF(t) >= CHUNKS_OF(t)) break;
    if (!atomic_compare_exchange_weak_explicit(&claim, &t, t + 1, memory_order_acq_rel, memory_order_acquire)) continue;
    gen = GEN_OF(t);
    run_chunk(NEXT_OF(t));
    ran++;
    t = atomic_load_explicit(&claim, memory_order_acquire);
  }
  if (ran) add_finished(ran);
}

static void sleep_until_published(uint32_t seen) {
  atomic_fetch_add(&sleepers, 1);
  uint32_t g = atomic_load(&generation);
  if ((g & 0xffffff) == seen) syscall(SYS_futex, &generation, FUTEX_WAIT_PRIVATE, g, NULL, NULL, 0);
  atomic_fetch_sub(&sleepers, 1);
}

static void *worker_main(void *arg) {
  int id = (int)(intptr_t)arg;
  thread_num = id + 1;
  uint32_t seen = GEN_OF(atomic_load(&claim));
  for (;;) {
    uint64_t t = atomic_load_explicit(&claim, memory_order_acquire);
    if (GEN_OF(t) != seen) {
      seen = GEN_OF(t);
      help(id);
      continue;
    }
    int64_t idle_since = now_ns(), looked = idle_since;
    if (idle_since < atomic_load_explicit(&spin_again_ns, memory_order_relaxed)) sleep_until_published(seen);
    for (unsigned spins = 1; GEN_OF(atomic_load_explicit(&claim, memory_order_acquire)) == seen; spins++) {
      relax();
      if ((spins & 63) != 0) continue;
      int64_t now = now_ns();
      if (now - looked > PREEMPTED_NS) atomic_store_explicit(&spin_again_ns, now + NO_SPIN_NS, memory_order_relaxed);
      if (now - idle_since > SPIN_NS || now < atomic_load_explicit(&spin_again_ns, memory_order_relaxed)) {
        sleep_until_published(seen);
        now = now_ns();
        idle_since = now;
      }
      looked = now;
    }
  }
  return NULL;
}

static int team_cap(void) {
  if (cap < 0) {
    const char *v = getenv("KILN_NUM_THREADS");
    long n = v ? strtol(v, NULL, 10) : 0;
    cap = n >= 1 && n <= MAX_WORKERS + 1 ? (int)n : MAX_WORKERS + 1;
  }
  return cap;
}

/* Starts workers up to n (signals stay with the process's own threads); returns how many run. */
static int start_workers(int n) {
  if (atomic_load(&started) >= n) return n;
  pthread_mutex_lock(&start_lock);
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  int have = atomic_load(&started);
  for (; have < n; have++) {
    pthread_attr_t attr;
    pthread_t thread;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int failed = pthread_create(&thread, &attr, worker_main, (void *)(intptr_t)have);
    pthread_attr_destroy(&attr);
    if (failed) break;
    atomic_fetch_add(&stats[4], 1);
  }
  atomic_store(&started, have);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  pthread_mutex_unlock(&start_lock);
  return have;
}

/*
 * Each kernel's time on the caller alone, measured (not estimated from the
 * caller's share of a team region: on a machine many processes share, the
 * caller is descheduled alone as well, and an estimate from its undisturbed
 * chunks would blame the team for every stall). Measured in every region of
 * a caller-alone spell, and in one region in SAMPLE_EVERY of each kernel
 * while the team runs (about 1% of the team's gain when nothing else runs).
 */
#define KERNEL_SLOTS 512
#define SAMPLE_EVERY 64
static struct kernel_time { kiln_kernel fn; int64_t alone_ns; uint32_t calls; } kernels[KERNEL_SLOTS];

static struct kernel_time *kernel_time(kiln_kernel fn) {
  uint64_t h = (uint64_t)(uintptr_t)fn * 0x9E3779B97F4A7C15ull >> 55;
  for (int i = 0; i < 16; i++) {
    struct kernel_time *k = &kernels[(h + i) % KERNEL_SLOTS];
    if (k->fn == fn) return k;
    if (!k->fn) {
      k->fn = fn;
      return k;
    }
  }
  return NULL;
}

/* A running mean over about 8 samples, descheduled ones included: alone, the caller is descheduled too. */
static void note_alone(struct kernel_time *k, int64_t ns) {
  if (!k) return;
  k->alone_ns = k->alone_ns == 0 ? ns : k->alone_ns + (ns - k->alone_ns) / 8;
}

static void go_alone(int64_t now) {
  solo = 1;
  solo_until = now + solo_for;
  solo_for = solo_for * 2 < SOLO_MAX_NS ? solo_for * 2 : SOLO_MAX_NS;
  loss_limit = PROBE_LOSS_NS;
  window_team_ns = window_alone_ns = 0;
  window_regions = 0;
  atomic_fetch_add(&stats[2], 1);
}

/* team_ns: a team region's time; alone_ns: the same kernel's time alone. */
static void judge(int64_t team_ns, int64_t alone_ns, int64_t now) {
  window_team_ns += team_ns;
  window_alone_ns += alone_ns;
  if (window_team_ns - window_alone_ns > loss_limit) return go_alone(now);
  if (++window_regions < WINDOW_REGIONS && window_alone_ns < WINDOW_NS) return;
  if (window_team_ns > TEAM_PAYS * window_alone_ns) return go_alone(now);
  solo_for = solo_for / 2 > SOLO_MIN_NS ? solo_for / 2 : SOLO_MIN_NS;
  loss_limit = loss_limit * 2 < LOSS_NS ? loss_limit * 2 : LOSS_NS;
  window_team_ns = window_alone_ns = 0;
  window_regions = 0;
}

/* Runs one region on the team; returns its time. */
static int64_t run_team(kiln_kernel fn, void *bases, int64_t rows, int64_t chunk, int team) {
  int64_t chunks = (rows + chunk - 1) / chunk;
  if (chunks > MAX_CHUNKS) {
    chunk = (rows + MAX_CHUNKS - 1) / MAX_CHUNKS;
    chunks = (rows + chunk - 1) / chunk;
  }
  int64_t t0 = now_ns();
  atomic_store(&job_fn, fn);
  atomic_store(&job_bases, bases);
  atomic_store(&job_rows, rows);
  atomic_store(&job_chunk, chunk);
  atomic_store_explicit(&finished, 0, memory_order_relaxed);
  uint32_t gen = (GEN_OF(atomic_load(&claim)) + 1) & 0xffffff;
  atomic_store(&claim, (uint64_t)gen << 40 | (uint64_t)team << 32 | (uint64_t)chunks << 16);
  atomic_store(&generation, gen);
  if (atomic_load(&sleepers) > 0) syscall(SYS_futex, &generation, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
  uint32_t mine = take_chunks(), theirs = (uint32_t)chunks - mine;
  int64_t waiting = now_ns();
  for (unsigned spins = 1; atomic_load_explicit(&finished, memory_order_acquire) != theirs; spins++) {
    relax();
    if ((spins & 63) != 0 || now_ns() - waiting < WAIT_SPIN_NS) continue;
    atomic_store(&caller_sleeps, 1);
    uint32_t seen;
    while ((seen = atomic_load(&finished)) != theirs) syscall(SYS_futex, &finished, FUTEX_WAIT_PRIVATE, seen, NULL, NULL, 0);
    atomic_store(&caller_sleeps, 0);
  }
  return now_ns() - t0;
}

static void run_alone(kiln_kernel fn, void *bases, int64_t rows, struct kernel_time *k) {
  int64_t t0 = now_ns();
  fn(bases, 0, rows);
  note_alone(k, now_ns() - t0);
  atomic_fetch_add(&stats[1], 1);
}

KILN_API void kiln_parallel(kiln_kernel fn, void *bases, int64_t rows, int64_t chunk, int32_t threads) {
  int team = threads < team_cap() ? threads : team_cap();
  int expected = 0;
  if (team <= 1 || chunk >= rows) {
    fn(bases, 0, rows);
    return;
  }
  if (!atomic_compare_exchange_strong(&caller_busy, &expected, 1)) {
    /* Another thread's region holds the team: run alone rather than queue. */
    atomic_fetch_add(&stats[5], 1);
    fn(bases, 0, rows);
    return;
  }
  struct kernel_time *k = kernel_time(fn);
  if (solo && now_ns() < solo_until) {
    run_alone(fn, bases, rows, k);
  } else if (k && (k->alone_ns == 0 || ++k->calls % SAMPLE_EVERY == 0)) {
    run_alone(fn, bases, rows, k);
  } else {
    if (solo) {
      solo = 0;
      atomic_fetch_add(&stats[3], 1);
    }
    team = 1 + start_workers(team - 1 < MAX_WORKERS ? team - 1 : MAX_WORKERS);
    atomic_fetch_add(&stats[0], 1);
    int64_t team_ns = run_team(fn, bases, rows, chunk, team);
    if (k) judge(team_ns, k->alone_ns, now_ns());
  }
  atomic_store(&caller_busy, 0);
}

/* The team member running this chunk (the caller is 0): programs index per-thread scratch with it, as under OpenMP. */
KILN_API int omp_get_thread_num(void) {
  return thread_num;
}

/* Counters for tests and benchmarks: team regions, regions run alone, fallbacks to alone, probes of the team, workers started, regions run alone because another caller held the team. */
KILN_API void kiln_pool_stats(uint64_t out[6]) {
  for (int i = 0; i < 6; i++) out[i] = atomic_load(&stats[i]);
}
`;

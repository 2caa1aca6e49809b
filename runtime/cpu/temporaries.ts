/**
 * Temporaries left by killed processes: a compile or a checkpoint save that
 * is killed mid-way leaves its temporary files behind (its `finally` never
 * runs). They are removed by the next save or cache use, once they are older
 * than a minute and the process that wrote them is gone; a live writer's
 * files are never touched. Child processes of the native toolchain die with
 * their parent (PR_SET_PDEATHSIG through setpriv), so none outlive a killed
 * compile.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** Temporaries younger than this are left alone whatever their writer's state (clock skew, slow writers). */
export const STALE_AFTER_MS = 60_000;

/** True while process `pid` exists (EPERM means it exists under another user). */
export function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid < 1) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes the files of `dir` whose names `match` recognizes as temporaries
 * (returning the writer's pid), when older than STALE_AFTER_MS and their
 * writer is dead. Returns the names removed.
 */
export function removeStaleTemporaries(dir: string, match: (name: string) => number | null, now = Date.now()): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const pid = match(name);
    if (pid === null || pid === process.pid || processAlive(pid)) continue;
    try {
      if (now - statSync(join(dir, name)).mtimeMs < STALE_AFTER_MS) continue;
      rmSync(join(dir, name), { force: true });
      removed.push(name);
    } catch {
      // Removed meanwhile by another process's cleanup.
    }
  }
  return removed;
}

/**
 * `setpriv --pdeathsig KILL`, where util-linux's setpriv supports it: children
 * then die with this process. Probed at the first child, not at import: a
 * process that only loads cached programs never pays for the probe.
 */
let pdeathsig: readonly string[] | undefined;

function probePdeathsig(): readonly string[] {
  if (process.platform !== 'linux') return [];
  const probe = spawnSync('setpriv', ['--pdeathsig', 'KILL', '--', 'true'], { stdio: 'ignore' });
  return probe.status === 0 ? ['setpriv', '--pdeathsig', 'KILL', '--'] : [];
}

/** The command line that runs `cmd args` as a child that dies with this process. */
export function dyingWithParent(cmd: string, args: readonly string[]): [string, string[]] {
  const prefix = (pdeathsig ??= probePdeathsig());
  return prefix.length ? [prefix[0], [...prefix.slice(1), cmd, ...args]] : [cmd, [...args]];
}

/**
 * Removes the temporaries a killed save of `path` left in its folder:
 * `<name>.tmp-<pid>-<suffix>` and `.<name>.tmp-<pid>-<suffix>` (older than a
 * minute, writer gone).
 */
export function removeStaleSaveTemporaries(path: string): string[] {
  const name = basename(path);
  return removeStaleTemporaries(dirname(path), (file) => {
    const rest = file.startsWith(`${name}.tmp-`) ? file.slice(name.length + 5) : file.startsWith(`.${name}.tmp-`) ? file.slice(name.length + 6) : null;
    const m = rest === null ? null : /^(\d+)-[0-9a-f]+$/.exec(rest);
    return m ? Number(m[1]) : null;
  });
}

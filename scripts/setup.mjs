#!/usr/bin/env node
/**
 * One idempotent setup step for `npm run demo` and `npm test`: installs the
 * Debian packages Kiln needs (when root; otherwise prints the apt-get line and
 * fails), then `npm ci` when node_modules is missing or older than the lock
 * file. Quick no-op when everything is in place.
 *
 * npm scripts of dependencies are not run blindly: `npm ci --ignore-scripts`,
 * then only the packages we know need a native build are rebuilt (the
 * benchmark peer onnxruntime-node has an install script that downloads GPU
 * binaries from outside the registries; its CPU binary ships in the package).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const DEB_PACKAGES = ['llvm-14-dev', 'clang-14', 'lld-14', 'cmake', 'zlib1g-dev', 'libzstd-dev', 'build-essential', 'dataset-fashion-mnist', 'libegl1', 'libegl-mesa0', 'libgl1-mesa-dri', 'libgles2', 'graphviz', 'chromium'];
const NATIVE_PACKAGES = ['koffi', 'llvm-bindings'];

function run(cmd, args, options = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', cwd: root, ...options });
  if (r.status !== 0) {
    console.error(`setup: '${cmd} ${args.join(' ')}' failed with exit code ${r.status}`);
    process.exit(r.status ?? 1);
  }
}

function missingDebs() {
  const r = spawnSync('dpkg-query', ['-W', '-f=${Package} ${db:Status-Status}\n', ...DEB_PACKAGES], { encoding: 'utf8' });
  const installed = new Set(r.stdout.split('\n').filter((l) => l.endsWith(' installed')).map((l) => l.split(' ')[0]));
  return DEB_PACKAGES.filter((p) => !installed.has(p));
}

function ensureDebs() {
  const missing = missingDebs();
  if (missing.length === 0) return;
  const line = `apt-get update && apt-get install -y --no-install-recommends ${missing.join(' ')}`;
  if (process.getuid?.() !== 0) {
    console.error(`setup: missing Debian packages: ${missing.join(', ')}\nInstall them as root:\n  sudo sh -c '${line}'`);
    process.exit(1);
  }
  console.log(`setup: installing ${missing.join(' ')}`);
  run('sh', ['-c', line], { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
}

function ensureNodeModules() {
  const stamp = join(root, 'node_modules', '.kiln-setup');
  const lock = join(root, 'package-lock.json');
  if (existsSync(stamp) && statSync(stamp).mtimeMs >= statSync(lock).mtimeMs) return;
  run('npm', ['ci', '--ignore-scripts', '--no-audit', '--no-fund']);
  run('npm', ['rebuild', ...NATIVE_PACKAGES]);
  writeFileSync(stamp, `${new Date().toISOString()}\n`);
}

ensureDebs();
ensureNodeModules();
try {
  execFileSync('llc-14', ['--version'], { stdio: 'ignore' });
} catch {
  console.error('setup: llc-14 is not on PATH although llvm-14 is installed');
  process.exit(1);
}

/**
 * Packages only some features need (YAML, PNG/JPEG, zip), loaded on first
 * use rather than by `import 'kiln'`: together they cost more start-up time
 * than the whole core (issue 11). They are CommonJS under Node, so a
 * synchronous require keeps the features that use them synchronous.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

function onFirstUse<T>(load: () => T): () => T {
  let loaded: T | undefined;
  return () => (loaded ??= load());
}

export const yamlPackage = onFirstUse(() => require('yaml') as typeof import('yaml'));
export const pngPackage = onFirstUse(() => require('pngjs') as typeof import('pngjs'));
export const jpegPackage = onFirstUse(() => require('jpeg-js') as typeof import('jpeg-js'));
export const zipPackage = onFirstUse(() => require('fflate') as typeof import('fflate'));

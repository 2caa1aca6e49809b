/**
 * Keras's to_yaml / model_from_yaml: the same config as JSON, in YAML
 * through the `yaml` package with its plain core schema (no custom tags, so
 * nothing in a file can construct objects) and a bound on alias expansion.
 */
import { yamlPackage } from '../optional_packages.js';
import { guardConfig } from './config_guard.js';
import { MAX_CONFIG_CHARS } from './limits.js';
import { type AnyNetwork, type ConfigOptions, keras2ConfigOf, modelFromConfigObject } from './model_config.js';

/** The model's Keras 2 config as YAML (Keras's model.to_yaml()). */
export function modelToYAML(model: AnyNetwork): string {
  return yamlPackage().stringify({ ...keras2ConfigOf(model), keras_version: '2.2.4', backend: 'kiln' });
}

export function modelFromYAML(text: string, options: ConfigOptions = {}): AnyNetwork {
  if (typeof text !== 'string') throw new Error(`modelFromYAML: expected YAML text, got ${typeof text}`);
  if (text.length > MAX_CONFIG_CHARS) throw new Error(`modelFromYAML: the YAML has ${text.length} characters, more than the limit of ${MAX_CONFIG_CHARS}`);
  const doc = yamlPackage().parseDocument(text, { schema: 'core', customTags: [], uniqueKeys: true, merge: false, logLevel: 'silent' });
  const problem = doc.errors[0] ?? doc.warnings[0];
  if (problem) throw new Error(`modelFromYAML: not a plain YAML config (${problem.message.split('\n')[0]})`);
  let parsed: unknown;
  try {
    parsed = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    throw new Error(`modelFromYAML: ${(e as Error).message.split('\n')[0]}`);
  }
  guardConfig(parsed, 'modelFromYAML');
  return modelFromConfigObject(parsed, 'modelFromYAML', options);
}

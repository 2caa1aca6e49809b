/**
 * The first look at a config from a file: size and depth bounded, no key or
 * class name that could reach an object prototype (`__proto__`,
 * `constructor`, `prototype`), and no code. Python bytecode (a Keras Lambda's
 * marshalled function) is refused here, before any layer is built.
 */
import { MAX_CONFIG_CHARS, MAX_CONFIG_DEPTH } from './limits.js';

const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

export function parseConfigText(text: string, where: string): unknown {
  if (text.length > MAX_CONFIG_CHARS) throw new Error(`${where}: the config has ${text.length} characters, more than the limit of ${MAX_CONFIG_CHARS}`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new Error(`${where}: not valid JSON (${(e as Error).message})`);
  }
  guardConfig(parsed, where);
  return parsed;
}

/**
 * Walks `value` without recursion (a hostile depth cannot overflow the
 * stack) and throws at the first forbidden key, class name or code object.
 */
export function guardConfig(value: unknown, where: string): void {
  const stack: { v: unknown; path: string; depth: number }[] = [{ v: value, path: '', depth: 0 }];
  while (stack.length) {
    const { v, path, depth } = stack.pop()!;
    if (depth > MAX_CONFIG_DEPTH) throw new Error(`${where}: the config nests deeper than ${MAX_CONFIG_DEPTH} levels at ${path || 'the top'}`);
    if (Array.isArray(v)) {
      v.forEach((x, i) => stack.push({ v: x, path: `${path}[${i}]`, depth: depth + 1 }));
      continue;
    }
    if (!v || typeof v !== 'object') continue;
    const obj = v as Record<string, unknown>;
    for (const key of Object.keys(obj)) {
      if (FORBIDDEN_KEYS.has(key)) throw new Error(`${where}: the key '${key}' at ${path || 'the top'} is not allowed in a model config`);
      stack.push({ v: obj[key], path: path ? `${path}.${key}` : key, depth: depth + 1 });
    }
    const cls = obj.class_name ?? obj.className;
    if (typeof cls === 'string' && FORBIDDEN_KEYS.has(cls)) throw new Error(`${where}: class name '${cls}' at ${path || 'the top'} is not allowed`);
    refuseCode(obj, path, where);
  }
}

/**
 * Keras 2 Lambda: config.function is [bytecode, defaults, closure] with
 * function_type 'lambda'; Keras 3: {class_name: '__lambda__', config: {code}}.
 * Either is Python code, which Kiln never runs.
 */
function refuseCode(obj: Record<string, unknown>, path: string, where: string): void {
  const cls = obj.class_name ?? obj.className;
  const config = obj.config as Record<string, unknown> | undefined;
  const name = (config?.name as string | undefined) ?? path;
  if (cls === '__lambda__') throw new Error(`${where}: ${path} holds Python bytecode (a Keras 3 lambda); Kiln never runs code from a file. Register a function with customObjects and name it instead.`);
  if (cls !== 'Lambda' || !config) return;
  const fn = config.function;
  const type = config.function_type ?? config.functionType;
  if (Array.isArray(fn) || type === 'lambda' || (fn && typeof fn === 'object')) {
    throw new Error(`${where}: Lambda layer '${name}' holds Python bytecode; Kiln never runs code from a file. Save the function by name (Keras function_type 'function') and pass it in customObjects.`);
  }
}

/**
 * Keras's custom objects: user layer classes and Lambda functions by the
 * name a saved model refers to them by. A file names a function; it never
 * carries code Kiln would run.
 */

/** Names to user classes and functions, as Keras's custom_objects argument. */
export type CustomObjects = Readonly<Record<string, unknown>>;

const registry = new Map<string, unknown>();

/** Registers a custom layer class (or a Lambda function) under `name` for every later load (Keras's get_custom_objects()). */
export function registerCustomObject(name: string, value: unknown): void {
  if (typeof name !== 'string' || !name) throw new Error(`registerCustomObject: the name must be a non-empty string, got ${String(name)}`);
  registry.set(name, value);
}

/** A registered custom object, from `customObjects` first, then the process-wide registry. */
export function customObject(name: string, customObjects: CustomObjects = {}): unknown {
  if (Object.hasOwn(customObjects, name)) return customObjects[name];
  return registry.get(name);
}

/** The names known for error messages. */
export function customObjectNames(customObjects: CustomObjects = {}): string[] {
  return [...new Set([...Object.keys(customObjects), ...registry.keys()])].sort();
}

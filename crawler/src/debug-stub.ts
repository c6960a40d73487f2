/**
 * Stands in for the `debug` package in the bundle. The proxy agents use it to
 * print proxy URLs, credentials included, when DEBUG is set; the crawler
 * logs through its own redacting logger only.
 */
type DebugFn = ((...args: unknown[]) => void) & { enabled: boolean; extend: () => DebugFn };

function createDebug(): DebugFn {
  const fn = (() => undefined) as DebugFn;
  fn.enabled = false;
  fn.extend = createDebug;
  return fn;
}

export = Object.assign(createDebug, { enable: () => undefined, disable: () => '', enabled: () => false });

import type { parser as LezerParser } from '@prometheus-io/lezer-promql' with { 'resolution-mode': 'import' };

// The package ships a CommonJS build, but its types are ESM-only: load the former, type it with the latter.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { parser } = require('@prometheus-io/lezer-promql') as { parser: typeof LezerParser };

/** Syntax errors of a PromQL expression, per Prometheus' own grammar (empty when it parses). */
export function promqlErrors(expr: string): string[] {
  const errors: string[] = [];
  parser.parse(expr).iterate({
    enter: node => {
      if (node.type.isError) errors.push(`syntax error at ${node.from}: ...${expr.slice(Math.max(0, node.from - 20), node.from + 20)}...`);
    },
  });
  return errors;
}

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

/** Metric names an expression selects: `name{...}` selectors, and literal alternatives of `__name__=~"a|b"`. */
export function metricNames(expr: string): string[] {
  const names = new Set<string>();
  parser.parse(expr).iterate({
    enter: node => {
      if (node.type.name !== 'VectorSelector') return;
      const text = expr.slice(node.from, node.to);
      const name = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(text)?.[0];
      if (name) names.add(name);
      const regex = /__name__=~?"([^"]*)"/.exec(text)?.[1];
      regex?.split('|').forEach(n => names.add(n));
    },
  });
  return [...names].sort();
}

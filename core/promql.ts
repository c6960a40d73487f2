/** PromQL building blocks the rules, the alerts and the dashboards share. */

/** A PromQL `by (...)` clause. */
export const by = (...labels: string[]) => `by (${labels.join(', ')})`;

/** Upload and download vectors side by side, told apart by a `direction` label so they never collide. */
export function byDirection(sent: string, received: string): string {
  return `label_replace(${sent}, "direction", "sent", "", "") or label_replace(${received}, "direction", "received", "", "")`;
}

/** Escapes a literal for a PromQL (RE2) regex inside a double-quoted string. */
export function escapeRegex(literal: string): string {
  return literal.replace(/[.*+?^${}()|[\]\\]/g, '\\\\$&');
}

/** Exact-match alternation of literal values, for a label_replace/matcher regex. */
export function anyOf(values: readonly string[]): string {
  return values.map(escapeRegex).join('|');
}

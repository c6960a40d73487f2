import { DESTINATION_LABEL, LABEL, OTHER_DESTINATION } from './metric-contract';
import { anyOf, by, escapeRegex } from './promql';

/** How the destination rules bound the number of distinct `destination` values (resolved MetricsStack options). */
export interface DestinationGuard {
  /** 'registrable-domain': a host counts under its registrable domain (www.bbc.co.uk → bbc.co.uk). */
  readonly fold: 'none' | 'registrable-domain';
  /** Most destinations kept by name per vendor (and protocol); the rest are summed into OTHER_DESTINATION. 0: no limit. */
  readonly maxPerVendor: number;
  /** Destinations neither folded nor ranked away: the vendor gateways, which the misrouting alert reads. */
  readonly pinned: readonly string[];
  /** Public suffixes of more than one label (co.uk, com.au) the fold keeps whole. */
  readonly publicSuffixes: readonly string[];
  /** The top list ranks destinations by their average rate over this window (RANK_CURRENT: their current rate). */
  readonly rankWindow: string;
  /** How far (0.5: 50%) an unlisted destination must rank above a listed one to take its place. 0: no preference. */
  readonly hysteresis: number;
}

/** Rank window that ranks destinations by the per-destination rule's own (5-minute) rate, without averaging. */
export const RANK_CURRENT = '5m';

/** No folding, no limit: every host by name. */
export const UNBOUNDED_DESTINATIONS: DestinationGuard = { fold: 'none', maxPerVendor: 0, pinned: [], publicSuffixes: [], rankWindow: RANK_CURRENT, hysteresis: 0 };

/**
 * Adds `destination`: the SNI of a TLS connection when known; else the request's host (HTTP: the Host header
 * directly, the target through an inspected gateway) without a default port (a CONNECT's `host:443` is `host`);
 * else destination_service (the gateway host for connections to a TCP gateway, "unknown" for TLS without SNI).
 * `label_join` puts "sni;host;service" side by side, because label_replace reads only one label; each step
 * matches only while the value still holds the separators.
 */
export function withDestination(expr: string): string {
  const d = DESTINATION_LABEL;
  const joined = `label_join(${expr}, "${d}", ";", "${LABEL.sni}", "${LABEL.host}", "destination_service")`;
  const service = `label_replace(${joined}, "${d}", "$1", "${d}", "(?:unknown)?;(?:unknown)?;(.*)")`;
  const host = `label_replace(${service}, "${d}", "$1", "${d}", "(?:unknown)?;([^;]+?)(?::(?:80|443))?;.*")`;
  return `label_replace(${host}, "${d}", "$1", "${d}", "([^;]+);.*")`;
}

/**
 * The regex (for label_replace, which anchors it) capturing a host's registrable domain: one label before a
 * listed multi-label public suffix, else the last two labels. The lazy prefix makes the suffix alternative win
 * (www.bbc.co.uk → bbc.co.uk, not co.uk). IP addresses (numeric last label), "unknown", hosts with a port and
 * "(other)" do not match and stay as they are.
 */
export function registrableDomainRegex(publicSuffixes: readonly string[]): string {
  const byTld = new Map<string, string[]>();
  for (const suffix of [...new Set(publicSuffixes.map(x => x.toLowerCase()))].sort()) {
    const dot = suffix.lastIndexOf('.');
    if (dot < 0) continue;
    const tld = suffix.slice(dot + 1);
    byTld.set(tld, [...(byTld.get(tld) ?? []), suffix.slice(0, dot)]);
  }
  const label = '[a-z0-9_-]+';
  const multi = [...byTld].map(([tld, heads]) => `(?:${heads.map(escapeRegex).join('|')})\\\\.${escapeRegex(tld)}`).join('|');
  const registrable = multi ? `${label}\\\\.(?:${multi})|${label}\\\\.[a-z][a-z0-9-]*` : `${label}\\\\.[a-z][a-z0-9-]*`;
  return `(?i)(?:${label}\\\\.)*?(${registrable})`;
}

/** Folds `destination` to the registrable domain, leaving pinned hosts whole. */
export function foldToRegistrableDomain(expr: string, guard: DestinationGuard): string {
  const d = DESTINATION_LABEL;
  // The host stays in a label of its own until the caller's sum: label_replace must not output equal label sets.
  const kept = `label_replace(${expr}, "${d}_host", "$1", "${d}", "(.*)")`;
  // A leading "=" hides pinned hosts from the fold regex, which only matches host names.
  const marked = guard.pinned.length ? `label_replace(${kept}, "${d}", "=$1", "${d}", "(${anyOf(guard.pinned)})")` : kept;
  const folded = `label_replace(${marked}, "${d}", "$1", "${d}", "${registrableDomainRegex(guard.publicSuffixes)}")`;
  return guard.pinned.length ? `label_replace(${folded}, "${d}", "$1", "${d}", "=(.*)")` : folded;
}

/**
 * The destinations a bound ranks: the per-`keep`-group sums without the pinned ones, the pinned ones, and the `on`
 * clause that matches a destination within its group.
 */
function splitPinned(perDestination: string, keep: readonly string[], guard: DestinationGuard): { summed: string; ranked: string; pinnedPart?: string; on: string } {
  const d = DESTINATION_LABEL;
  const summed = `sum ${by(...keep, d)} (${perDestination})`;
  const on = `on (${[...keep, d].join(', ')})`;
  const pinned = guard.pinned.map(h => `label_replace(vector(1), "${d}", "${h}", "", "")`).join(' or ');
  if (!pinned) return { summed, ranked: summed, on };
  return { summed, ranked: `(${summed} unless on (${d}) (${pinned}))`, pinnedPart: `(${summed} and on (${d}) (${pinned}))`, on };
}

/**
 * The top list of the destination bound (undefined without a limit): per `keep` group, the `maxPerVendor`
 * destinations of the recorded per-destination sums (a metric name) with the highest score, valued at it. The score is
 * a destination's average over `rankWindow`, times 1 + `hysteresis` if `listed` (this rule's own recorded output)
 * held it at the previous evaluation. A long tail of near-equal, noisy destinations would otherwise swap places at
 * every evaluation, and the bounded rule would hold every one of them over a few hours. The boost is a factor per
 * current destination (1 or 1 + hysteresis), so that the average over the window is read once.
 */
export function listDestinations(perDestination: string, keep: readonly string[], guard: DestinationGuard, listed: string): string | undefined {
  if (guard.maxPerVendor <= 0) return undefined;
  const { ranked, on } = splitPinned(perDestination, keep, guard);
  const average = guard.rankWindow === RANK_CURRENT ? ranked : `sum ${by(...keep, DESTINATION_LABEL)} (avg_over_time(${perDestination}[${guard.rankWindow}]))`;
  const boost = `((${ranked} * 0 + 1 unless ${on} ${listed}) or (${ranked} * 0 + ${1 + guard.hysteresis} and ${on} ${listed}))`;
  const score = guard.hysteresis > 0 ? `${average} * ${on} ${boost}`
    : average === ranked ? ranked : `(${average} and ${on} ${ranked})`;
  return `topk ${by(...keep)} (${guard.maxPerVendor}, ${score})`;
}

/**
 * Bounds the destinations of the recorded per-destination sums (`destination` already resolved and folded): keeps the
 * pinned destinations and those of the top list `listed` (see listDestinations) by name, at their current rate, and
 * sums the rest per `keep` group into "(other)". `unless` (not a subtraction) makes "(other)" exactly the sum of the
 * remaining series and absent when nothing remains.
 */
export function boundDestinations(perDestination: string, keep: readonly string[], guard: DestinationGuard, listed: string): string {
  const { summed, ranked, pinnedPart, on } = splitPinned(perDestination, keep, guard);
  if (guard.maxPerVendor <= 0) return summed;
  return [
    ...(pinnedPart ? [pinnedPart] : []),
    `(${ranked} and ${on} ${listed})`,
    `label_replace(sum ${by(...keep)} (${ranked} unless ${on} ${listed}), "${DESTINATION_LABEL}", "${OTHER_DESTINATION}", "", "")`,
  ].join(' or ');
}

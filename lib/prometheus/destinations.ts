import { NOT_MEASURED_DESTINATION } from '../../core/metric-contract';
import { DestinationGuard, RANK_CURRENT } from '../../core/destinations';
import { countryCodeSecondLevelSuffixes } from '../internal/public-suffixes';
import { VendorCatalog } from '../../core/vendor';
import { PropertyError, checkDnsName, checkNumber, parseDuration } from '../../core/validation';

/** How the per-destination recording rules bound the number of distinct destinations. */
export interface DestinationOptions {
  /**
   * `'registrable-domain'` counts a host under its registrable domain (www.bbc.co.uk and news.bbc.co.uk →
   * bbc.co.uk) in the destination rules, so subdomains do not multiply series. Multi-label public suffixes come
   * from a bounded list built with the Public Suffix List at synth time (`<label>.<country code>`, e.g. co.uk,
   * com.au) plus `extraPublicSuffixes`; under any other multi-label suffix a host folds to its last two labels.
   * IP addresses, hosts with a port, "unknown" and the vendor gateways are never folded. Raw series keep the host.
   * @default DEFAULT_FOLD ('none')
   */
  readonly fold?: 'none' | 'registrable-domain';
  /**
   * Most destinations per vendor (and protocol, for requests) that the destination rules keep by name, ranked by
   * their current rate; the others are summed into destination "(other)", so totals stay whole. Vendor gateways
   * are always kept. 0 turns the limit off.
   * @default DEFAULT_MAX_DESTINATIONS_PER_VENDOR (200)
   */
  readonly maxPerVendor?: number;
  /**
   * The top list ranks destinations by their average rate over this window: a long tail of near-equal destinations
   * then keeps the same names from one evaluation to the next instead of bringing new series every minute. Values
   * are always the current rates. '5m' ranks by the current rate. Each evaluation reads the per-destination sums over
   * the window: about one sample per minute and distinct destination.
   * @default DEFAULT_RANK_WINDOW ('1h')
   */
  readonly rankWindow?: string;
  /**
   * How far an unlisted destination must rank above a listed one to take its place in the top list (0.5: 50% above
   * its average). Listed destinations keep their place through noise and ties. 0 ranks afresh at every evaluation.
   * @default DEFAULT_HYSTERESIS (0.5)
   */
  readonly hysteresis?: number;
  /**
   * More multi-label public suffixes to respect when folding, e.g. 'kawasaki.jp' or 'github.io'.
   * @default []
   */
  readonly extraPublicSuffixes?: string[];
}

/** No folding: each host is a destination of its own. */
export const DEFAULT_FOLD = 'none';
export const DEFAULT_MAX_DESTINATIONS_PER_VENDOR = 200;
export const DEFAULT_RANK_WINDOW = '1h';
export const DEFAULT_HYSTERESIS = 0.5;
/** Longest rank window: each evaluation reads the window of every distinct destination. */
const MAX_RANK_WINDOW_MS = 24 * 3_600_000;

/**
 * Validates the options and resolves them into the guard the destination rules are built from.
 * @internal
 */
export function resolveDestinationGuard(opts: DestinationOptions | undefined, vendors: VendorCatalog): DestinationGuard {
  const fold = opts?.fold ?? DEFAULT_FOLD;
  if (fold !== 'none' && fold !== 'registrable-domain') {
    throw new PropertyError('destinations.fold', fold, 'must be \'none\' or \'registrable-domain\'');
  }
  const maxPerVendor = checkNumber('destinations.maxPerVendor', opts?.maxPerVendor ?? DEFAULT_MAX_DESTINATIONS_PER_VENDOR, { min: 0, integer: true });
  const rankWindow = opts?.rankWindow ?? DEFAULT_RANK_WINDOW;
  const rankMs = parseDuration('destinations.rankWindow', rankWindow);
  const currentMs = parseDuration('destinations.rankWindow', RANK_CURRENT);
  if (rankMs < currentMs || rankMs > MAX_RANK_WINDOW_MS) {
    throw new PropertyError('destinations.rankWindow', rankWindow, `must be between '${RANK_CURRENT}' (the rate window) and '24h'`);
  }
  const hysteresis = checkNumber('destinations.hysteresis', opts?.hysteresis ?? DEFAULT_HYSTERESIS, { min: 0, max: 4 });
  const extra = opts?.extraPublicSuffixes ?? [];
  extra.forEach((suffix, i) => {
    checkDnsName(`destinations.extraPublicSuffixes[${i}]`, suffix);
    if (!suffix.includes('.')) throw new PropertyError(`destinations.extraPublicSuffixes[${i}]`, suffix, 'must have at least two labels (single labels fold as TLDs already)');
  });
  return {
    fold,
    maxPerVendor,
    // Gateways (the misrouting alert reads them) and "(not measured)" are never ranked away into "(other)".
    pinned: [...new Set([...vendors.vendors.flatMap(v => v.gatewayHosts), NOT_MEASURED_DESTINATION])].sort(),
    // One spelling for the current rate, which the bound reads without averaging.
    rankWindow: rankMs === currentMs ? RANK_CURRENT : rankWindow,
    hysteresis,
    publicSuffixes: fold === 'registrable-domain' ? [...new Set([...countryCodeSecondLevelSuffixes(), ...extra])].sort() : [],
  };
}

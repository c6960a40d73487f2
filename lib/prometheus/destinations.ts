import { NOT_MEASURED_DESTINATION } from '../../core/metric-contract';
import { DestinationGuard } from '../../core/destinations';
import { countryCodeSecondLevelSuffixes } from '../internal/public-suffixes';
import { VendorCatalog } from '../../core/vendor';
import { PropertyError, checkDnsName, checkNumber } from '../../core/validation';

/** How the per-destination recording rules bound the number of distinct destinations. */
export interface DestinationOptions {
  /**
   * `'registrable-domain'` counts a host under its registrable domain (www.bbc.co.uk and news.bbc.co.uk →
   * bbc.co.uk) in the destination rules, so subdomains do not multiply series. Multi-label public suffixes come
   * from a bounded list built with the Public Suffix List at synth time (`<label>.<country code>`, e.g. co.uk,
   * com.au) plus `extraPublicSuffixes`; under any other multi-label suffix a host folds to its last two labels.
   * IP addresses, hosts with a port, "unknown" and the vendor gateways are never folded. Raw series keep the host.
   * @default 'none'
   */
  readonly fold?: 'none' | 'registrable-domain';
  /**
   * Most destinations per vendor (and protocol, for requests) that the destination rules keep by name, ranked by
   * their current rate; the others are summed into destination "(other)", so totals stay whole. Vendor gateways
   * are always kept. 0 turns the limit off.
   * @default 200
   */
  readonly maxPerVendor?: number;
  /**
   * More multi-label public suffixes to respect when folding, e.g. 'kawasaki.jp' or 'github.io'.
   * @default []
   */
  readonly extraPublicSuffixes?: string[];
}

export const DEFAULT_MAX_DESTINATIONS_PER_VENDOR = 200;

/**
 * Validates the options and resolves them into the guard the destination rules are built from.
 * @internal
 */
export function resolveDestinationGuard(opts: DestinationOptions | undefined, vendors: VendorCatalog): DestinationGuard {
  const fold = opts?.fold ?? 'none';
  if (fold !== 'none' && fold !== 'registrable-domain') {
    throw new PropertyError('destinations.fold', fold, 'must be \'none\' or \'registrable-domain\'');
  }
  const maxPerVendor = checkNumber('destinations.maxPerVendor', opts?.maxPerVendor ?? DEFAULT_MAX_DESTINATIONS_PER_VENDOR, { min: 0, integer: true });
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
    publicSuffixes: fold === 'registrable-domain' ? [...new Set([...countryCodeSecondLevelSuffixes(), ...extra])].sort() : [],
  };
}

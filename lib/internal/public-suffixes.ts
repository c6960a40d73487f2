import { getPublicSuffix } from 'tldts';

/**
 * Second-level labels that registries commonly open under a country-code TLD (co.uk, com.au, ne.jp, gov.br).
 * Suffixes built from other labels (kawasaki.jp, city.kobe.jp) or from the PSL's private section (github.io)
 * are not in the generated list: a host under them folds to its last two labels.
 */
const SECOND_LEVEL_LABELS = [
  'ac', 'art', 'asso', 'biz', 'blog', 'co', 'com', 'ed', 'edu', 'firm', 'gen', 'go', 'gob', 'gouv', 'gov', 'govt',
  'gr', 'gv', 'in', 'ind', 'info', 'int', 'k12', 'lib', 'ltd', 'me', 'mil', 'mobi', 'mus', 'name', 'ne', 'net',
  'nhs', 'nic', 'nom', 'or', 'org', 'per', 'plc', 'police', 'pro', 'res', 'sch', 'store', 'tm', 'tv', 'web',
];

let cached: string[] | undefined;

/**
 * Multi-label ICANN public suffixes of the form `<label>.<country code>`, each confirmed against the Public
 * Suffix List shipped with tldts: a bounded list (about 1,500) for the registrable-domain fold.
 */
export function countryCodeSecondLevelSuffixes(): string[] {
  if (cached) return [...cached];
  const letters = 'abcdefghijklmnopqrstuvwxyz';
  const found: string[] = [];
  for (const a of letters) {
    for (const b of letters) {
      for (const label of SECOND_LEVEL_LABELS) {
        const suffix = `${label}.${a}${b}`;
        if (getPublicSuffix(`x.${suffix}`, { allowPrivateDomains: false }) === suffix) found.push(suffix);
      }
    }
  }
  cached = found.sort();
  return [...cached];
}

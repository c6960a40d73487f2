import { describeContractE2e } from './support/contract-e2e';

/**
 * The product's scrape config and relabeling, run by a real Prometheus against simulated sidecars, must
 * reproduce the simulator's ground truth (see test/support/contract-e2e.ts for the checks).
 */
describeContractE2e('standalone');

/**
 * Smooth weighted round-robin (as in nginx): exact proportions over every
 * cycle of sum(weights) picks, with heavy items interleaved rather than
 * bunched, so short runs already show the intended mix. The crawler picks
 * its targets with it, the gateway its page sizes.
 */
export class WeightedPicker<T extends { weight: number }> {
  private readonly current: number[];
  private readonly total: number;

  constructor(private readonly items: readonly T[]) {
    if (items.length === 0) throw new Error('WeightedPicker needs at least one item');
    this.current = items.map(() => 0);
    this.total = items.reduce((sum, item) => sum + item.weight, 0);
  }

  next(): T {
    let best = 0;
    for (let i = 0; i < this.items.length; i++) {
      this.current[i] += this.items[i].weight;
      if (this.current[i] > this.current[best]) best = i;
    }
    this.current[best] -= this.total;
    return this.items[best];
  }
}

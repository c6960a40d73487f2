
/** One of `count` Prometheus servers that split the crawler targets between them. */
export interface ShardSpec {
  readonly index: number;
  readonly count: number;
}

/**
 * Keeps the targets of one shard: md5 of the target address modulo the shard count, as prometheus-operator
 * shards (`generateAddressShardingRelabelingRules`). Every target lands on exactly one shard.
 */
export function shardRelabelConfigs(shard: ShardSpec): Record<string, unknown>[] {
  return [
    { source_labels: ['__address__'], target_label: '__tmp_hash', modulus: shard.count, action: 'hashmod' },
    { source_labels: ['__tmp_hash'], regex: String(shard.index), action: 'keep' },
  ];
}

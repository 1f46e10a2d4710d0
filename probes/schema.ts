/**
 * The schema shared by the composer and the decoder: the program's map names, the source ids in
 * their first key, the markers the program prints, and how plugin maps are named. Neither side
 * spells a map name or a source id of its own.
 * @module
 */

/** Source ids as they appear in the first key of every aggregation map. */
export const SOURCE_ID = {
  request: 1,
  kernel: 2,
  probe: 3,
  daemon: 4,
  queue: 5,
  transit: 6,
  uprobe: 7,
  served: 8,
} as const;

/**
 * `--sample auto`: the requests outside the 1 in N, timed until the switch to sampling, are
 * aggregated under their source's id plus this (so the 1 in N stays apart from the start).
 */
export const UNSAMPLED = 16;

/** The sources whose rows are per connection (mount) and opcode; the others are per table entry. */
export const CONNECTION_SOURCES = ["request", "daemon", "queue", "transit", "served"] as const;

/**
 * The built-in aggregation maps. Keys `source, connection, op` (op: opcode, or the table index of
 * a timed function with connection 0); `@lat` adds the bucket, `@err` the errno.
 */
export const MAP = {
  /** Log-linear latency buckets (hist.ts): count per bucket. */
  lat: "@lat",
  /** stats(): exact timed count and sum. */
  stats: "@st",
  /** Errors by errno. */
  err: "@err",
  /**
   * Counts: requests without a reply or not timed (`--sample`) at send, untimed daemon
   * requests.
   */
  count: "@cnt",
  /** Payload bytes to and from the daemon. */
  bytesIn: "@bin",
  bytesOut: "@bout",
  /** Replies whose send was not recorded. */
  unmatched: "@unmatched",
  /** Sends with unique 0 (Linux 6.12–6.17). */
  unique0: "@u0",
  /** Daemon reads that began before tracing. */
  daemonMissed: "@dmiss",
  /** Calls by probe name (`count`, `--daemon libfuse`). */
  calls: "@calls",
  /** `--sample auto`: the request rate (per second) at the switch to 1 in N; absent before. */
  switched: "@sw",
  /** `--sample auto`: milliseconds into the trace of the switch. */
  switchedAt: "@swms",
  /** `--sample auto`: requests of this second, counted 1 in 64 (scratch). */
  rate: "@rate",
  /** Requests in flight: printed at exit, never aggregated. */
  inFlight: "@req",
} as const;

/** The maps a snapshot prints and the decoder reads, in print order. */
export const REPORTED_MAPS: readonly string[] = [
  MAP.lat,
  MAP.stats,
  MAP.err,
  MAP.count,
  MAP.bytesIn,
  MAP.bytesOut,
  MAP.unmatched,
  MAP.unique0,
  MAP.daemonMissed,
  MAP.calls,
  MAP.switched,
  MAP.switchedAt,
];

/** Marker printed after each interval snapshot. */
export const SNAPSHOT_MARK = "fusetrace:snapshot";
/** Prefix of a slow-request line: connection, opcode, latency ns, requester pid, errno. */
export const SLOW_MARK = "fusetrace:slow";
/** Marker printed by END: the exit dump of the maps follows. */
export const END_MARK = "fusetrace:end";
/**
 * Set in bpftrace's environment (as `NAME=1`), it makes bpftrace print this name once every probe
 * is attached.
 */
export const READY_MARK = "__BPFTRACE_NOTIFY_PROBES_ATTACHED";

/** The bpftrace name of a plugin's map `name`: `@plugin__name`. */
export function pluginMapName(plugin: string, name: string): string {
  return `@${plugin}__${name}`;
}

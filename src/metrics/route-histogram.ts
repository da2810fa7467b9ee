// A Prometheus histogram with one label, for observations made on every engine read (TTFT, inter-token gap):
// prom-client's Histogram.observe validates and hashes a label object per call, a few % of the gateway's CPU under
// load; here an observation is a Map lookup and a few array updates. The registry gets what prom-client's own
// Histogram would give for the same observations (lib/histogram.js, prom-client 15), so the text exposition,
// getMetricsAsJSON() and AggregatorRegistry see the same metric.
import type { Registry } from "prom-client";

interface Series {
  /** The series' labels, one object for its lifetime (prom-client caches their rendering by identity). */
  readonly labels: Record<string, string>;
  /** Observations per bucket, not cumulative; a value above the last bound is only in `count` (le="+Inf"). */
  readonly buckets: Float64Array;
  sum: number;
  count: number;
}

/** One exported sample, in prom-client's shape. */
interface Sample {
  value: number;
  metricName: string;
  exemplar: null | undefined;
  labels: Record<string, string | number>;
  sharedLabels?: Record<string, string>;
}

export interface RouteHistogramConfig {
  name: string;
  help: string;
  /** The one label (e.g. "route"). */
  labelName: string;
  /** Upper bounds, ascending. */
  buckets: readonly number[];
  registers: Registry[];
}

export class RouteHistogram {
  readonly type = "histogram";
  readonly aggregator = "sum";
  readonly name: string;
  readonly help: string;
  private readonly labelName: string;
  private readonly upperBounds: readonly number[];
  private series = new Map<string, Series>();

  constructor(config: RouteHistogramConfig) {
    const { buckets } = config;
    let previous = Number.NEGATIVE_INFINITY;
    for (const bound of buckets) {
      if (!Number.isFinite(bound) || bound <= previous) {
        throw new Error(
          `${config.name}: bucket bounds must be finite and ascending, got [${buckets.join(", ")}]`,
        );
      }
      previous = bound;
    }
    this.name = config.name;
    this.help = config.help;
    this.labelName = config.labelName;
    this.upperBounds = [...buckets];
    // Registry.registerMetric takes any object with a name and get(): prom-client's own metrics are no more.
    for (const registry of config.registers) registry.registerMetric(this as never);
  }

  observe(labelValue: string, value: number): void {
    // Like prom-client: a non-number is a bug of the caller, not a sample.
    if (!Number.isFinite(value)) throw new TypeError(`Value is not a valid number: ${value}`);
    let s = this.series.get(labelValue);
    if (s === undefined) {
      s = {
        labels: { [this.labelName]: labelValue },
        buckets: new Float64Array(this.upperBounds.length),
        sum: 0,
        count: 0,
      };
      this.series.set(labelValue, s);
    }
    const bounds = this.upperBounds;
    for (let i = 0; i < bounds.length; i++) {
      if (value <= (bounds[i] as number)) {
        s.buckets[i] = (s.buckets[i] as number) + 1;
        break;
      }
    }
    s.sum += value;
    s.count++;
  }

  /** What Registry.metrics() renders: bucket samples carry the series' labels apart, as prom-client's do. */
  async getForPromString() {
    const bucketName = `${this.name}_bucket`;
    const values: Sample[] = [];
    for (const s of this.series.values()) {
      let cumulative = 0;
      this.upperBounds.forEach((le, i) => {
        cumulative += s.buckets[i] as number;
        values.push(sample({ le }, cumulative, bucketName, null, s.labels));
      });
      values.push(sample({ le: "+Inf" }, s.count, bucketName, null, s.labels));
      values.push(sample({}, s.sum, `${this.name}_sum`, undefined, s.labels));
      values.push(sample({}, s.count, `${this.name}_count`, undefined, s.labels));
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  /** What Registry.getMetricsAsJSON() returns: the series' labels merged into each sample's. */
  async get() {
    const data = await this.getForPromString();
    return {
      ...data,
      values: data.values.map(
        ({ sharedLabels, labels, ...rest }): Sample => ({
          ...rest,
          labels: Object.assign(labels, sharedLabels),
        }),
      ),
    };
  }

  reset(): void {
    this.series = new Map();
  }
}

function sample(
  labels: Record<string, string | number>,
  value: number,
  metricName: string,
  exemplar: null | undefined,
  sharedLabels: Record<string, string>,
): Sample {
  return { labels, sharedLabels, value, metricName, exemplar };
}

// A small hand-written Prometheus text registry: counters, gauges and histograms with fixed label names.

type LabelValues = readonly string[];

interface Metric {
  render(out: string[]): void;
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

function labelText(names: readonly string[], values: LabelValues, extra?: [string, string]): string {
  const parts = names.map((n, i) => `${n}="${escapeLabel(values[i] ?? "")}"`);
  if (extra) parts.push(`${extra[0]}="${extra[1]}"`);
  return parts.length === 0 ? "" : `{${parts.join(",")}}`;
}

function formatNumber(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Number.POSITIVE_INFINITY) return "+Inf";
  if (v === Number.NEGATIVE_INFINITY) return "-Inf";
  return String(v);
}

abstract class Labelled<T> implements Metric {
  protected readonly series = new Map<string, { values: LabelValues; state: T }>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
  ) {}

  protected get(values: LabelValues): T {
    if (values.length !== this.labelNames.length) {
      throw new Error(
        `${this.name} takes labels (${this.labelNames.join(", ")}), got ${values.length} values`,
      );
    }
    const key = values.join("\u0000");
    let entry = this.series.get(key);
    if (!entry) {
      entry = { values: [...values], state: this.initial() };
      this.series.set(key, entry);
    }
    return entry.state;
  }

  protected abstract initial(): T;
  abstract render(out: string[]): void;
}

export class Counter extends Labelled<{ value: number }> {
  protected initial() {
    return { value: 0 };
  }

  inc(values: LabelValues = [], by = 1): void {
    this.get(values).value += by;
  }

  value(values: LabelValues = []): number {
    return this.series.get(values.join("\u0000"))?.state.value ?? 0;
  }

  render(out: string[]): void {
    out.push(`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`);
    for (const { values, state } of this.series.values()) {
      out.push(`${this.name}${labelText(this.labelNames, values)} ${formatNumber(state.value)}`);
    }
  }
}

export class Histogram extends Labelled<{ counts: number[]; sum: number; count: number }> {
  constructor(
    name: string,
    help: string,
    labelNames: readonly string[],
    readonly buckets: readonly number[],
  ) {
    super(name, help, labelNames);
  }

  protected initial() {
    return { counts: new Array<number>(this.buckets.length).fill(0), sum: 0, count: 0 };
  }

  observe(values: LabelValues, v: number): void {
    const state = this.get(values);
    state.sum += v;
    state.count += 1;
    // Counts are stored per bucket and accumulated at render time: one increment per observation.
    const i = this.buckets.findIndex((le) => v <= le);
    if (i >= 0) state.counts[i] = (state.counts[i] ?? 0) + 1;
  }

  render(out: string[]): void {
    out.push(`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`);
    for (const { values, state } of this.series.values()) {
      let cumulative = 0;
      this.buckets.forEach((le, i) => {
        cumulative += state.counts[i] ?? 0;
        out.push(
          `${this.name}_bucket${labelText(this.labelNames, values, ["le", String(le)])} ${cumulative}`,
        );
      });
      out.push(`${this.name}_bucket${labelText(this.labelNames, values, ["le", "+Inf"])} ${state.count}`);
      out.push(`${this.name}_sum${labelText(this.labelNames, values)} ${formatNumber(state.sum)}`);
      out.push(`${this.name}_count${labelText(this.labelNames, values)} ${state.count}`);
    }
  }
}

/** A gauge whose series are computed when /metrics is scraped. */
export class Gauge implements Metric {
  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
    private readonly collect: () => Array<{ values: LabelValues; value: number }>,
  ) {}

  render(out: string[]): void {
    out.push(`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} gauge`);
    for (const { values, value } of this.collect()) {
      out.push(`${this.name}${labelText(this.labelNames, values)} ${formatNumber(value)}`);
    }
  }
}

export class Registry {
  private readonly metrics: Metric[] = [];

  add<M extends Metric>(metric: M): M {
    this.metrics.push(metric);
    return metric;
  }

  /** Prometheus text exposition format 0.0.4, ending with a newline. */
  render(): string {
    const out: string[] = [];
    for (const m of this.metrics) m.render(out);
    return out.length === 0 ? "" : `${out.join("\n")}\n`;
  }
}

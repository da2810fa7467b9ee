// The engines' vllm:* series of several replicas in one exposition: each sample gets a `replica` label, and each
// metric family's HELP/TYPE lines are written once, followed by every replica's samples of that family (the text
// format wants a family's lines together; https://prometheus.io/docs/instrumenting/exposition_formats/).

/** `name{a="b"} 1` → `name{replica="2",a="b"} 1`; `name 1` → `name{replica="2"} 1`. */
export function withReplicaLabel(sample: string, replica: number): string {
  const label = `replica="${replica}"`;
  const brace = sample.indexOf("{");
  const space = sample.indexOf(" ");
  if (brace !== -1 && (space === -1 || brace < space)) {
    const empty = sample[brace + 1] === "}";
    return `${sample.slice(0, brace + 1)}${label}${empty ? "" : ","}${sample.slice(brace + 1)}`;
  }
  if (space === -1) return sample;
  return `${sample.slice(0, space)}{${label}}${sample.slice(space)}`;
}

/** The family a sample belongs to (its name without the _bucket/_sum/_count/_total/_created suffix of its kind). */
function familyOf(name: string, families: Map<string, unknown>): string {
  if (families.has(name)) return name;
  for (const suffix of ["_bucket", "_sum", "_count", "_total", "_created"]) {
    if (name.endsWith(suffix) && families.has(name.slice(0, -suffix.length)))
      return name.slice(0, -suffix.length);
  }
  return name;
}

/** Merges the replicas' vllm:* texts (vllmSeriesOnly output) into one, labelled by replica. */
export function mergeReplicaSeries(parts: ReadonlyArray<{ replica: number; text: string }>): string {
  const families = new Map<string, { meta: string[]; samples: string[] }>();
  const family = (name: string) => {
    const found = families.get(name);
    if (found) return found;
    const f = { meta: [] as string[], samples: [] as string[] };
    families.set(name, f);
    return f;
  };
  for (const { replica, text } of parts) {
    for (const line of text.split("\n")) {
      if (line === "") continue;
      const meta = /^# (HELP|TYPE) (\S+)/.exec(line);
      if (meta) {
        const f = family(meta[2] as string);
        if (!f.meta.some((m) => m.startsWith(`# ${meta[1]} `))) f.meta.push(line);
        continue;
      }
      const name = line.slice(0, line.search(/[{ ]/) === -1 ? line.length : line.search(/[{ ]/));
      family(familyOf(name, families)).samples.push(withReplicaLabel(line, replica));
    }
  }
  const out: string[] = [];
  for (const f of families.values()) out.push(...f.meta, ...f.samples);
  return out.length === 0 ? "" : `${out.join("\n")}\n`;
}

/**
 * Keeps only the engine's own series (`vllm:*`) and their HELP/TYPE lines from its /metrics text, so nothing
 * of the engine's process-level series collides with ours.
 */
export function vllmSeriesOnly(text: string): string {
  const kept: string[] = [];
  for (const line of text.split("\n")) {
    if (line.startsWith("vllm:") || line.startsWith("# HELP vllm:") || line.startsWith("# TYPE vllm:")) {
      kept.push(line);
    }
  }
  return kept.length === 0 ? "" : `${kept.join("\n")}\n`;
}

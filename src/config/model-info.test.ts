import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { hfCacheFolderName, locateModelConfig, ModelConfigError, readModelFacts } from "./model-info.js";

const REPO = path.resolve(import.meta.dirname, "../..");
const HF_CACHE = path.join(REPO, "test/fixtures/hf-cache");

function tempDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), "llm-runner-model-"));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function snapshot(cache: string, repo: string, rev: string, config: object, mtimeSec: number): void {
  const dir = path.join(cache, hfCacheFolderName(repo), "snapshots", rev);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, "config.json"), JSON.stringify(config));
  utimesSync(dir, mtimeSec, mtimeSec);
}

describe("locateModelConfig", () => {
  it("names cache folders as huggingface_hub does", () => {
    expect(hfCacheFolderName("meta-llama/Meta-Llama-3.1-8B-Instruct")).toBe(
      "models--meta-llama--Meta-Llama-3.1-8B-Instruct",
    );
  });

  it("follows refs/main into the snapshot (through huggingface_hub's blob symlink)", () => {
    const found = locateModelConfig({
      modelId: "meta-llama/Meta-Llama-3.1-8B-Instruct",
      cacheDirs: [HF_CACHE],
    });
    expect(found).toEqual({
      found: true,
      configPath: path.join(
        HF_CACHE,
        "models--meta-llama--Meta-Llama-3.1-8B-Instruct/snapshots/5206a32e0bd3067aef1ce90f5528ade7d866253f/config.json",
      ),
    });
    if (found.found) expect(readModelFacts(found.configPath).numAttentionHeads).toBe(32);
  });

  it("takes the newest snapshot when refs/main is absent", () => {
    const cache = tempDir();
    snapshot(cache, "org/m", "aaa", { num_attention_heads: 8 }, 1_000);
    snapshot(cache, "org/m", "bbb", { num_attention_heads: 16 }, 2_000);
    const found = locateModelConfig({ modelId: "org/m", cacheDirs: [cache] });
    expect(found.found && readModelFacts(found.configPath).numAttentionHeads).toBe(16);
  });

  it("falls back to the newest snapshot when refs/main points at a missing one", () => {
    const cache = tempDir();
    snapshot(cache, "org/m", "aaa", { num_attention_heads: 8 }, 1_000);
    mkdirSync(path.join(cache, "models--org--m", "refs"));
    writeFileSync(path.join(cache, "models--org--m", "refs", "main"), "ccc\n");
    const found = locateModelConfig({ modelId: "org/m", cacheDirs: [cache] });
    expect(found.found && readModelFacts(found.configPath).numAttentionHeads).toBe(8);
  });

  it("hints at hub/ when MODEL_DIR points at HF_HOME", () => {
    const home = tempDir();
    snapshot(path.join(home, "hub"), "org/m", "aaa", {}, 1_000);
    const found = locateModelConfig({ modelId: "org/m", cacheDirs: [home] });
    expect(found).toMatchObject({ found: false, hint: expect.stringContaining(path.join(home, "hub")) });
  });

  it("reports where it looked when the model is absent", () => {
    const found = locateModelConfig({ modelId: "org/none", cacheDirs: [HF_CACHE] });
    expect(found).toEqual({ found: false, searched: [path.join(HF_CACHE, "models--org--none")] });
  });
});

describe("readModelFacts", () => {
  it("reads the language model's facts from text_config and defaults KV heads to heads", () => {
    const dir = tempDir();
    const p = path.join(dir, "config.json");
    writeFileSync(
      p,
      JSON.stringify({ model_type: "llava", text_config: { num_attention_heads: 40, hidden_size: 5120 } }),
    );
    expect(readModelFacts(p)).toMatchObject({
      modelType: "llava",
      numAttentionHeads: 40,
      numKeyValueHeads: 40,
    });
  });

  it("throws ModelConfigError for a file that is not JSON", () => {
    const dir = tempDir();
    const p = path.join(dir, "config.json");
    writeFileSync(p, "{ not json");
    expect(() => readModelFacts(p)).toThrow(ModelConfigError);
  });
});

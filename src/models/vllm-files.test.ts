import { describe, expect, it } from "vitest";
import { filterByIndex, NoWeightsError, selectVllmFiles } from "./vllm-files.js";

const f = (path: string, size = 10) => ({ path, size });
const paths = (xs: Array<{ path: string }>) => xs.map((x) => x.path).sort();

describe("selectVllmFiles", () => {
  it("takes safetensors over .bin, skips original/ and non-model files", () => {
    const s = selectVllmFiles([
      f(".gitattributes"),
      f("README.md"),
      f("LICENSE"),
      f("config.json"),
      f("generation_config.json"),
      f("tokenizer.json"),
      f("tokenizer_config.json"),
      f("tokenizer.model"),
      f("chat_template.jinja"),
      f("model.safetensors.index.json"),
      f("model-00001-of-00002.safetensors"),
      f("model-00002-of-00002.safetensors"),
      f("pytorch_model-00001-of-00002.bin"),
      f("original/consolidated.00.pth"),
      f("original/params.json"),
      f("original/tokenizer.model"),
      f("onnx/model.onnx"),
    ]);
    expect(s.format).toBe("safetensors");
    expect(paths(s.weights)).toEqual([
      "model-00001-of-00002.safetensors",
      "model-00002-of-00002.safetensors",
    ]);
    expect(paths(s.support)).toEqual([
      "chat_template.jinja",
      "config.json",
      "generation_config.json",
      "model.safetensors.index.json",
      "tokenizer.json",
      "tokenizer.model",
      "tokenizer_config.json",
    ]);
    expect(s.index?.path).toBe("model.safetensors.index.json");
  });

  it("falls back to .bin without the training leftovers when there are no safetensors", () => {
    const s = selectVllmFiles([
      f("config.json"),
      f("pytorch_model.bin"),
      f("training_args.bin"),
      f("optimizer.pt"),
      f("vocab.txt"),
    ]);
    expect(s.format).toBe("bin");
    expect(paths(s.weights)).toEqual(["pytorch_model.bin"]);
    expect(s.index).toBeNull();
  });

  it("ignores weights in sub-folders, which vLLM's top-level glob never loads", () => {
    expect(() => selectVllmFiles([f("config.json"), f("original/model.safetensors")])).toThrow(
      NoWeightsError,
    );
  });

  it("says what the repo has when there is nothing vLLM can load", () => {
    expect(() => selectVllmFiles([f("config.json"), f("model.gguf")])).toThrow(/config.json, model.gguf/);
  });
});

describe("filterByIndex", () => {
  const weights = [f("a.safetensors"), f("b.safetensors"), f("consolidated.safetensors")];
  it("keeps only the shards the index names", () => {
    const index = JSON.stringify({
      weight_map: { x: "a.safetensors", y: "b.safetensors", z: "a.safetensors" },
    });
    expect(paths(filterByIndex(weights, index))).toEqual(["a.safetensors", "b.safetensors"]);
  });
  it("keeps every shard when the index is unreadable or names none of them", () => {
    expect(filterByIndex(weights, "{not json")).toHaveLength(3);
    expect(filterByIndex(weights, JSON.stringify({ weight_map: { x: "other.safetensors" } }))).toHaveLength(
      3,
    );
  });
});

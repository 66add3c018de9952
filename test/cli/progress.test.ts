import { describe, expect, it } from "bun:test";
import { Progress } from "../../src/cli/progress.ts";

const file = { path: "onnx/model.onnx", size: 4 * 1024 * 1024 };

describe("pull progress", () => {
  it("redraws one bar in place on a terminal", () => {
    const written: string[] = [];
    const progress = new Progress(true, (text) => written.push(text));
    progress.begin(file.path, file.size, 0);
    progress.update({ file, done: file.size / 2, resumedFrom: 0 });
    progress.end(file.path, "downloaded", file.size);
    expect(written[0]).toMatch(/^\ronnx\/model\.onnx \[#{15}-{15}\]  50% 2\.0 MB\/4\.0 MB [\d.]+ MB\/s\u001b\[K$/);
    expect(written.at(-1)).toMatch(/^\ronnx\/model\.onnx: 4\.0 MB in [\d.]+ s, checksum verified\u001b\[K\n$/);
  });

  it("writes plain lines, no bar, when the output is not a terminal", () => {
    const written: string[] = [];
    const progress = new Progress(false, (text) => written.push(text));
    progress.begin(file.path, file.size, 1024 * 1024);
    progress.update({ file, done: file.size / 2, resumedFrom: 1024 * 1024 });
    progress.end(file.path, "kept", file.size);
    expect(written).toEqual(["downloading onnx/model.onnx (4.0 MB, resuming at 1.0 MB)\n", "onnx/model.onnx: already here, checksum verified\n"]);
  });
});

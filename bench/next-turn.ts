// A chat's next turn against its first, with the prefix cache: an 896-token prompt, the same prompt + 16 tokens (after
// PAUSE_MS, default 0), then a fresh 912-token prompt and a fresh 16-token one (the floor); time to first token of each. With `--against REF` a server
// from that commit runs the same rounds, taking turns with the working tree's, so both see the same load.
//   bun bench/next-turn.ts bench-int8 [--against main] [--rounds 3]
import { parseArgs } from "node:util";
import { benchModel, ensureModels, promptIds } from "./models.ts";
import { serverTarget, startBenchServer, type BenchServer } from "./server.ts";
import { timedStream, type StreamTiming } from "./http-streams.ts";
import type { ModelKey } from "./args.ts";
import { contextIds } from "./contexts.ts";

const { values, positionals } = parseArgs({ allowPositionals: true, options: { against: { type: "string" }, rounds: { type: "string", default: "2" } } });
const key = (positionals[0] ?? "bench-int8") as ModelKey;
await ensureModels([key], (line) => console.error(line));
const m = benchModel(key);
const base = await promptIds(m);
const targets = [await serverTarget({ binary: false })];
if (values.against) targets.push(await serverTarget({ binary: false, ref: values.against }));
const servers: { label: string; server: BenchServer }[] = [];
try {
  for (const target of targets) {
    const server = await startBenchServer(target, [...m.serverArgs, "--max-loaded-models", "1", "--threads", "2"]);
    servers.push({ label: target.label, server });
    await timedStream(server.baseURL, { model: m.serverModel, promptIds: base, tokens: 2 });
  }
  for (let r = 0; r < Number(values.rounds); r++) {
    for (const { label, server } of servers) {
      const salt = 500 + r * 10 + servers.findIndex((s) => s.server === server) + Math.floor(Math.random() * 400) * 100;
      const ids = contextIds(base, 896, salt);
      const first = await timedStream(server.baseURL, { model: m.serverModel, promptIds: ids, tokens: 1 });
      await Bun.sleep(Number(process.env.PAUSE_MS ?? 0));
      const next = await timedStream(server.baseURL, { model: m.serverModel, promptIds: [...ids, ...contextIds(base, 16, 3)], tokens: 1 });
      const fresh = await timedStream(server.baseURL, { model: m.serverModel, promptIds: contextIds(base, 912, salt + 50), tokens: 1 });
      const short = await timedStream(server.baseURL, { model: m.serverModel, promptIds: contextIds(base, 16, salt + 70), tokens: 1 });
      const t = (s: StreamTiming) => ((s.textNs[0] ?? s.finishNs) - s.startNs) / 1e6;
      console.log(
        JSON.stringify({
          server: label,
          key,
          round: r,
          firstTurnMs: +t(first).toFixed(0),
          nextTurnMs: +t(next).toFixed(0),
          nextCached: next.cachedTokens,
          freshMs: +t(fresh).toFixed(0),
          fresh16Ms: +t(short).toFixed(0),
          ratio: +(t(next) / t(first)).toFixed(3),
          ratioVsFresh: +(t(next) / t(fresh)).toFixed(3),
        }),
      );
    }
  }
} finally {
  for (const { server } of servers) await server.stop();
}

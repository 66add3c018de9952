// A chat's next turn against its first, on one server with the prefix cache: an 896-token prompt, the same prompt + 16
// tokens (after PAUSE_MS, default 0), then a fresh 912-token prompt; time to first token of each, two rounds.
//   bun bench/next-turn.ts bench-int8
import { benchModel, promptIds } from "./models.ts";
import { serverTarget, startBenchServer } from "./server.ts";
import { timedStream, type StreamTiming } from "./http-streams.ts";
import type { ModelKey } from "./args.ts";
import { contextIds } from "./contexts.ts";
const key = (process.argv[2] ?? "bench-int8") as ModelKey;
const m = benchModel(key);
const base = await promptIds(m);
const target = await serverTarget({ binary: false });
const server = await startBenchServer(target, [...m.serverArgs, "--max-loaded-models", "1", "--threads", "2"]);
try {
  await timedStream(server.baseURL, { model: m.serverModel, promptIds: base, tokens: 2 });
  for (let r = 0; r < 2; r++) {
    const ids = contextIds(base, 896, 500 + r + Math.floor(Math.random() * 1000));
    const first = await timedStream(server.baseURL, { model: m.serverModel, promptIds: ids, tokens: 1 });
    await Bun.sleep(Number(process.env.PAUSE_MS ?? 0));
    const next = await timedStream(server.baseURL, { model: m.serverModel, promptIds: [...ids, ...contextIds(base, 16, 3)], tokens: 1 });
    const fresh = await timedStream(server.baseURL, { model: m.serverModel, promptIds: contextIds(base, 912, 9000 + r + Math.floor(Math.random() * 1000)), tokens: 1 });
    const t = (s: StreamTiming) => ((s.textNs[0] ?? s.finishNs) - s.startNs) / 1e6;
    console.log(JSON.stringify({ key, round: r, firstTurnMs: +t(first).toFixed(0), nextTurnMs: +t(next).toFixed(0), nextCached: next.cachedTokens, freshMs: +t(fresh).toFixed(0), ratio: +(t(next) / t(first)).toFixed(3), ratioVsFresh: +(t(next) / t(fresh)).toFixed(3) }));
  }
} finally {
  await server.stop();
}

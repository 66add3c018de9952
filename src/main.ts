#!/usr/bin/env bun
import { restoreNodeEnv } from "./production-env.ts";
import { existsSync } from "node:fs";
import { createApp, publicPaths } from "./app.ts";
import { COMMANDS_HELP, runCommand } from "./cli/commands.ts";
import { ConfigError, helpText, parseCli, type Config } from "./config.ts";
import { Engine } from "./engine/engine.ts";
import { ModelRegistry } from "./engine/registry.ts";
import { ApiKeys, reloadKeysOnSighup } from "./http/api-keys.ts";
import { ortVersion, transformersVersion } from "./runtime/versions.ts";
import { Logger } from "./telemetry/logger.ts";
import { Telemetry } from "./telemetry/telemetry.ts";
import { exitOnSignals } from "./shutdown.ts";
import packageJson from "../package.json" with { type: "json" };

function versionText(): string {
  return [
    `gpt3dev ${packageJson.version}`,
    `onnxruntime-node ${ortVersion}`,
    `@huggingface/transformers ${transformersVersion}`,
    `bun ${Bun.version}`,
  ].join("\n");
}

function start(config: Config): void {
  const telemetry = new Telemetry(new Logger(config.log));
  const { logger } = telemetry;
  const registry = new ModelRegistry({
    modelsDir: config.modelsDir,
    registryPath: config.registryPath,
    allowList: config.allowList,
  });
  const engine = new Engine({
    registry,
    maxLoadedModels: config.maxLoadedModels,
    keepAliveMs: config.keepAliveMs,
    intraOpThreads: config.intraOpThreads,
    auxiliaryIntraOpThreads: config.auxiliaryIntraOpThreads,
    auxiliaryNice: config.auxiliaryNice,
    graphOptimizationLevel: config.graphOptimization,
    cacheDir: config.cacheDir,
    prepackWeights: config.prepackWeights,
    packedWeightsFile: config.packedWeightsFile,
    spinning: config.spinning,
    inPlaceOutputs: config.inPlaceOutputs,
    fusedAttention: config.fusedAttention,
    fp16Weights: config.fp16Weights,
    tiedHead: config.tiedHead,
    memoryArena: config.memoryArena,
    scheduler: config.scheduler,
    observer: telemetry.observeEngine,
    log: (line) => logger.error(line.replace(/^\[gpt3dev\] /, "")),
  });
  const apiKeys = new ApiKeys(config.apiKeys, config.apiKeyFile);
  // Always handled: without a key file it only logs, instead of Bun's default of exiting on SIGHUP.
  reloadKeysOnSighup(apiKeys, (line) => logger.info(line.replace(/^\[gpt3dev\] /, "")));
  const app = createApp({
    engine,
    apiKeys,
    corsAllowOrigins: config.corsAllowOrigins,
    limits: config.limits,
    telemetry,
    metricsPublic: config.metricsPublic,
  }).listen({
    port: config.port,
    hostname: config.host,
  });
  const models = registry.list();
  const described = models.map((m) => `${m.id} (${m.dtype}${m.dtypeSource === "files" ? ", default" : ""})`);
  logger.info(
    `listening on http://${config.host}:${app.server?.port} with ${models.length} model(s): ${described.join(", ") || "none"} (from ${config.modelsDir})`,
  );
  for (const { id, reason } of registry.refused()) logger.warn(`not serving ${id}: ${reason}`);
  if (!existsSync(config.modelsDir)) {
    const serving = config.registryPath ? `serving the models of ${config.registryPath} only` : "no models to serve";
    logger.warn(`the models folder ${config.modelsDir} does not exist: ${serving}`);
  } else if (models.length === 0) logger.warn(`no models found in ${config.modelsDir}`);
  logger.info(apiKeys.describe(publicPaths(config.metricsPublic)));
  if (!app.server) throw new Error("the server did not start");
  exitOnSignals({ server: app.server, graceSeconds: config.shutdownGraceSeconds, cleanup: () => engine.close() });
}

async function main(): Promise<void> {
  try {
    if (await runCommand(process.argv.slice(2), process.env)) return;
    const cli = parseCli(process.argv.slice(2), process.env);
    if (cli.kind === "help") console.log(helpText() + COMMANDS_HELP);
    else if (cli.kind === "version") console.log(versionText());
    else start(cli.config);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const hint = error instanceof ConfigError ? "\nRun 'gpt3dev --help' for the list of options." : "";
    console.error(`gpt3dev: ${message}${hint}`);
    process.exit(error instanceof ConfigError ? 2 : 1);
  }
}

// Every module that reads NODE_ENV as it loads has loaded: the variable goes back to what the user set.
restoreNodeEnv();
await main();

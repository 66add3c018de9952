/** The executable's commands besides serving: `gpt3dev pull …` and `gpt3dev models …`. */
export const COMMANDS_HELP = `
Commands:
  gpt3dev pull <org/repo> [--revision R] [--dtype D]   download an ONNX model from the Hugging Face Hub (pull --help)
  gpt3dev models [--json]                            list the local models with their dtypes, sizes and parameters`;

/** Runs the command `argv` names and resolves true, or resolves false when `argv` is the server's own flags. */
export async function runCommand(argv: readonly string[], env: Record<string, string | undefined>): Promise<boolean> {
  const [command, ...rest] = argv;
  const out = (text: string) => process.stdout.write(text);
  if (command === "pull") {
    const { pull } = await import("./pull.ts");
    // The bar goes to stderr, so `> file` keeps the plain lines; redrawn only when stderr is a terminal.
    const tty = process.stderr.isTTY === true;
    await pull(rest, env, tty ? (text) => process.stderr.write(text) : out, tty);
    return true;
  }
  if (command === "models") {
    const { listModels } = await import("./models.ts");
    listModels(rest, env, out);
    return true;
  }
  return false;
}

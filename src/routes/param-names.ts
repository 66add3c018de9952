/**
 * Names an engine list argument as the request gave it: the engine's `prompts[1]` is `prompt[1]` when the request
 * sent a list, and `prompt` when it sent one value (which the route made a list of one).
 */
export function listParamOf(engineName: string, wireName: string, sentList: boolean): (argument: string) => string {
  const pattern = new RegExp(`^${engineName}(\\[\\d+\\])?`);
  return (argument) => argument.replace(pattern, (_, index: string | undefined) => wireName + (sentList && index ? index : ""));
}

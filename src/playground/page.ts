/**
 * The playground served at `/`: one self-contained page (inline style and script, nothing fetched from elsewhere)
 * that talks to this server's own OpenAI routes. Chat or plain completion with any served model, tokens streamed as
 * they arrive, a stop button that aborts the request (the server stops generating), temperature and max-tokens
 * controls, an API key kept in localStorage (shared with /docs), and the speed of each answer.
 */
export const PLAYGROUND_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>gpt3dev playground</title>
<style>
  :root { color-scheme: light dark; --line: #8884; --accent: #2f6fdb; }
  body { margin: 0; font: 15px/1.45 system-ui, sans-serif; display: flex; flex-direction: column; height: 100vh; }
  header { display: flex; flex-wrap: wrap; gap: 10px 16px; align-items: center; padding: 10px 16px; border-bottom: 1px solid var(--line); }
  header h1 { font-size: 17px; margin: 0 8px 0 0; }
  header label { display: flex; gap: 6px; align-items: center; }
  header input[type=number] { width: 5.5em; }
  header a { margin-left: auto; }
  main { flex: 1; overflow-y: auto; padding: 16px; }
  .turn { max-width: 60em; margin: 0 auto 12px; white-space: pre-wrap; word-wrap: break-word; }
  .turn b { display: block; font-size: 12px; text-transform: uppercase; opacity: .6; }
  .answer { padding: 8px 12px; border-left: 3px solid var(--accent); }
  .error { color: #c33; }
  footer { border-top: 1px solid var(--line); padding: 10px 16px; }
  footer form { display: flex; gap: 8px; max-width: 60em; margin: 0 auto; }
  footer textarea { flex: 1; min-height: 3.2em; font: inherit; }
  #stats { max-width: 60em; margin: 6px auto 0; font-size: 13px; opacity: .75; min-height: 1.2em; }
</style>
</head>
<body>
<header>
  <h1>gpt3dev</h1>
  <label>Model <select id="model"></select></label>
  <label>Mode <select id="mode"><option value="chat">chat</option><option value="completion">completion</option></select></label>
  <label>Temperature <input id="temperature" type="number" min="0" max="2" step="0.1" value="0.7"></label>
  <label>Max tokens <input id="max-tokens" type="number" min="1" step="1" value="256"></label>
  <label>API key <input id="api-key" type="password" autocomplete="off" placeholder="if the server needs one"></label>
  <button id="clear" type="button">Clear</button>
  <a href="/docs">API docs</a>
</header>
<main id="log"></main>
<footer>
  <form id="form">
    <textarea id="prompt" placeholder="Type a message (Enter sends, Shift+Enter for a new line)"></textarea>
    <button id="send" type="submit">Send</button>
    <button id="stop" type="button" disabled>Stop</button>
  </form>
  <div id="stats"></div>
</footer>
<script>
"use strict";
const KEY_ITEM = "gpt3dev-api-key";
const $ = (id) => document.getElementById(id);
const keyInput = $("api-key");
keyInput.value = localStorage.getItem(KEY_ITEM) || "";
let history = [];
let running = null;

function headers() {
  const h = { "content-type": "application/json" };
  const key = keyInput.value.trim();
  if (key) h.authorization = "Bearer " + key;
  return h;
}

function say(role, text, cls) {
  const turn = document.createElement("div");
  turn.className = "turn" + (cls ? " " + cls : "");
  const who = document.createElement("b");
  who.textContent = role;
  const body = document.createElement("div");
  body.textContent = text;
  turn.append(who, body);
  $("log").append(turn);
  turn.scrollIntoView({ block: "end" });
  return body;
}

async function errorText(response) {
  try {
    const body = await response.json();
    return body.error && body.error.message ? body.error.message : JSON.stringify(body);
  } catch (e) {
    return response.status + " " + response.statusText;
  }
}

async function loadModels() {
  const select = $("model");
  const previous = select.value;
  const response = await fetch("/v1/models", { headers: headers() });
  if (!response.ok) {
    $("stats").textContent = "Models: " + (await errorText(response));
    return;
  }
  const ids = (await response.json()).data.map((m) => m.id);
  select.replaceChildren(...ids.map((id) => new Option(id, id)));
  if (ids.includes(previous)) select.value = previous;
  $("stats").textContent = ids.length + " model(s) served";
}

async function send(text) {
  const mode = $("mode").value;
  const body = {
    model: $("model").value,
    temperature: Number($("temperature").value),
    max_tokens: Number($("max-tokens").value),
    stream: true,
    stream_options: { include_usage: true },
  };
  if (mode === "chat") {
    history.push({ role: "user", content: text });
    body.messages = history.slice();
    say("you", text);
  } else {
    body.prompt = text;
    say("prompt", text);
  }
  const out = say(body.model, "", "answer");
  out.id = "output";
  for (const old of document.querySelectorAll("[data-current]")) old.removeAttribute("data-current");
  out.setAttribute("data-current", "");
  const controller = new AbortController();
  running = controller;
  $("send").disabled = true;
  $("stop").disabled = false;
  $("stats").textContent = "…";
  const started = performance.now();
  let first = 0, chunks = 0, usage = null, answer = "", stopped = false;
  try {
    const response = await fetch(mode === "chat" ? "/v1/chat/completions" : "/v1/completions", {
      method: "POST", headers: headers(), body: JSON.stringify(body), signal: controller.signal,
    });
    if (!response.ok) throw new Error(await errorText(response));
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let end;
      while ((end = buffer.indexOf("\\n\\n")) >= 0) {
        const event = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        if (!event.startsWith("data: ")) continue;
        const data = event.slice(6);
        if (data === "[DONE]") continue;
        const chunk = JSON.parse(data);
        if (chunk.error) throw new Error(chunk.error.message);
        if (chunk.usage) usage = chunk.usage;
        const choice = chunk.choices && chunk.choices[0];
        const piece = choice ? (mode === "chat" ? (choice.delta && choice.delta.content) || "" : choice.text || "") : "";
        if (piece) {
          if (!first) first = performance.now();
          chunks++;
          answer += piece;
          out.textContent = answer;
          out.scrollIntoView({ block: "end" });
        }
      }
    }
  } catch (error) {
    if (controller.signal.aborted) stopped = true;
    else {
      out.classList.add("error");
      out.textContent = answer + (answer ? "\\n" : "") + "Error: " + error.message;
    }
  } finally {
    running = null;
    $("send").disabled = false;
    $("stop").disabled = true;
  }
  if (mode === "chat" && answer) history.push({ role: "assistant", content: answer });
  const seconds = (performance.now() - started) / 1000;
  const tokens = usage ? usage.completion_tokens : chunks;
  const decode = first ? (performance.now() - first) / 1000 : 0;
  const rate = tokens > 1 && decode > 0 ? ((tokens - 1) / decode).toFixed(1) : "–";
  $("stats").textContent = (stopped ? "stopped: " : "") + (usage ? "" : "≈") + tokens + " tokens in " + seconds.toFixed(2) +
    " s, " + rate + " tokens/s" + (first ? ", first token after " + ((first - started) / 1000).toFixed(2) + " s" : "");
}

$("form").addEventListener("submit", (event) => {
  event.preventDefault();
  const text = $("prompt").value;
  if (!text.trim() || running) return;
  $("prompt").value = "";
  send(text);
});
$("prompt").addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey) {
    event.preventDefault();
    $("form").requestSubmit();
  }
});
$("stop").addEventListener("click", () => running && running.abort());
$("clear").addEventListener("click", () => {
  history = [];
  $("log").replaceChildren();
  $("stats").textContent = "";
});
keyInput.addEventListener("change", () => {
  localStorage.setItem(KEY_ITEM, keyInput.value.trim());
  loadModels();
});
loadModels();
</script>
</body>
</html>
`;

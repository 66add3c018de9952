/**
 * The /docs page: Swagger UI (swagger-ui-dist, embedded in the executable and served from /docs/*, no CDN) over
 * /openapi.json. When the server has API keys, the document itself needs one: the page asks for it once and keeps it
 * in the browser's localStorage (the playground at / shares it), then sends it with "Try it out" requests too.
 */
export const DOCS_PAGE = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>gpt3dev API</title>
  <link rel="stylesheet" href="/docs/swagger-ui.css">
  <style>
    body { margin: 0; font-family: system-ui, sans-serif; }
    #key-bar { display: none; padding: 12px 20px; background: #fff4e5; border-bottom: 1px solid #e0c9a6; }
    #key-bar input { width: 22em; }
  </style>
</head>
<body>
  <form id="key-bar">
    This server needs an API key to show its API: <input id="key" type="password" autocomplete="off" placeholder="API key">
    <button type="submit">Show</button> <span id="key-message"></span>
  </form>
  <div id="swagger-ui"></div>
  <script src="/docs/swagger-ui-bundle.js"></script>
  <script>
    const KEY_ITEM = "gpt3dev-api-key";
    const bar = document.getElementById("key-bar");
    async function show() {
      const key = localStorage.getItem(KEY_ITEM) || "";
      const response = await fetch("/openapi.json", { headers: key ? { authorization: "Bearer " + key } : {} });
      if (response.status === 401) {
        bar.style.display = "block";
        document.getElementById("key-message").textContent = key ? "That key was refused." : "";
        return;
      }
      bar.style.display = "none";
      SwaggerUIBundle({
        spec: await response.json(),
        dom_id: "#swagger-ui",
        deepLinking: true,
        validatorUrl: null,
        requestInterceptor: (request) => {
          if (key && !request.headers.Authorization) request.headers.Authorization = "Bearer " + key;
          return request;
        },
      });
    }
    bar.addEventListener("submit", (event) => {
      event.preventDefault();
      localStorage.setItem(KEY_ITEM, document.getElementById("key").value.trim());
      show();
    });
    show();
  </script>
</body>
</html>
`;

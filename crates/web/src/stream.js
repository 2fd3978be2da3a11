"use strict";
// shoutcue-web's script for every page (put in by the server where a page
// asks for it with an empty script element marked data-shoutcue="stream").
// Nothing here may spell the closing tag of a script element.
//
// The token comes in the address's fragment, #token=..., which a browser
// never sends to a server: it stays out of server and proxy logs, history
// sync and referrers. (A link of an older version, ?token=..., still works.)
function shoutcueToken() {
  const h = new URLSearchParams(location.hash.slice(1)).get("token");
  return h || new URLSearchParams(location.search).get("token") || "";
}

// An event stream read with fetch, because an EventSource cannot send the
// token in a header. Calls on.event(name, data) for each event ("message"
// when unnamed), on.open() and on.error() as the connection comes and goes,
// and reconnects a second after it drops, as an EventSource does. Returns
// { close() }.
function shoutcueEvents(url, token, on) {
  let closed = false;
  let ctrl = null;
  const run = async () => {
    while (!closed) {
      ctrl = new AbortController();
      try {
        const r = await fetch(url, {
          headers: token ? { "X-Shoutcue-Token": token } : {},
          cache: "no-store",
          signal: ctrl.signal,
        });
        if (!r.ok || !r.body) throw new Error("HTTP " + r.status);
        if (on.open) on.open();
        const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
        let buf = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += value;
          let i;
          while ((i = buf.indexOf("\n\n")) >= 0) {
            const block = buf.slice(0, i);
            buf = buf.slice(i + 2);
            let name = "message";
            const data = [];
            for (const line of block.split("\n")) {
              if (line.startsWith("event:")) name = line.slice(6).trim();
              else if (line.startsWith("data:")) data.push(line.slice(line.startsWith("data: ") ? 6 : 5));
            }
            if (data.length && !closed) on.event(name, data.join("\n"));
          }
        }
      } catch (e) {
        // Refused or dropped: reported below, then tried again.
      }
      if (closed) return;
      if (on.error) on.error();
      await new Promise((res) => setTimeout(res, 1000));
    }
  };
  run();
  return { close() { closed = true; if (ctrl) ctrl.abort(); } };
}

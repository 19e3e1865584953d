// The web terminal's browser side: xterm.js on a websocket to /terminal/ws. The page's
// hydrated component calls mount() once and connect()/disconnect() from its buttons; the
// server does every check (administrator, origin, preset, host key, limits).
(function () {
  "use strict";
  let term = null;
  let fit = null;
  let socket = null;
  let pinger = null;
  let last = null; // { preset, password } of the last connection, for reconnect
  let connectedTo = "";

  function status(text, state) {
    const el = document.getElementById("terminal-status");
    if (el) {
      el.textContent = text;
      el.dataset.state = state || "";
    }
  }

  function mount(element) {
    if (term) return;
    term = new Terminal({ cursorBlink: true, fontSize: 14, scrollback: 5000 });
    fit = new FitAddon.FitAddon();
    term.loadAddon(fit);
    // No clipboard add-on: it lets the remote side write the administrator's clipboard
    // (OSC 52). Copying a selection works without it.
    term.open(element);
    fit.fit();
    window.addEventListener("resize", () => fit && fit.fit());
    term.onData((data) => {
      if (socket && socket.readyState === WebSocket.OPEN) socket.send(new TextEncoder().encode(data));
    });
    term.onResize(({ cols, rows }) => {
      if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: "resize", cols, rows }));
    });
    status("Not connected", "idle");
  }

  function stopPing() {
    if (pinger) clearInterval(pinger);
    pinger = null;
  }

  function connect(preset, password, accept) {
    if (!term) return;
    disconnect();
    last = { preset, password };
    term.reset();
    status(`Connecting to ${preset}…`, "connecting");
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    socket = new WebSocket(`${scheme}://${location.host}/terminal/ws?preset=${encodeURIComponent(preset)}`);
    socket.binaryType = "arraybuffer";
    const mine = socket;
    socket.onopen = () => {
      fit.fit();
      mine.send(JSON.stringify({ type: "connect", password: password || null, cols: term.cols, rows: term.rows, accept: accept || null }));
    };
    socket.onmessage = (event) => {
      if (typeof event.data !== "string") {
        term.write(new Uint8Array(event.data));
        return;
      }
      const m = JSON.parse(event.data);
      if (m.type === "connected") {
        connectedTo = `Connected to ${m.host} (${m.preset}) since ${m.since}`;
        status(connectedTo, "connected");
        stopPing();
        const ping = () => mine.readyState === WebSocket.OPEN && mine.send(JSON.stringify({ type: "ping", t: performance.now() }));
        ping();
        pinger = setInterval(ping, 5000);
        term.focus();
      } else if (m.type === "pong") {
        status(`${connectedTo} · latency ${Math.round(performance.now() - m.t)} ms`, "connected");
      } else if (m.type === "host_key") {
        const ok = window.confirm(
          `First connection to ${m.preset}. Its host key fingerprint is\n\n${m.fingerprint}\n\n` +
          "Compare it with the server's own (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub). Confirm to pin it and connect.");
        if (ok) connect(preset, password, m.fingerprint);
        else status("Host key not confirmed: not connected", "refused");
      } else if (m.type === "error") {
        status(m.message, "error");
      } else if (m.type === "closed") {
        status(`Disconnected: ${m.reason}`, "closed");
      }
    };
    socket.onclose = (event) => {
      stopPing();
      const el = document.getElementById("terminal-status");
      if (el && el.dataset.state === "connecting") status(`Refused (${event.code || "no answer"})`, "error");
      else if (el && el.dataset.state === "connected") status("Disconnected", "closed");
    };
  }

  function disconnect() {
    stopPing();
    if (socket) {
      const s = socket;
      socket = null;
      if (s.readyState <= WebSocket.OPEN) s.close();
      status("Disconnected", "closed");
    }
  }

  function reconnect() {
    if (last) connect(last.preset, last.password);
  }

  window.insectidTerminal = { mount, connect, disconnect, reconnect };
})();

// Offline capture. On the upload page, photos chosen while the browser is offline are kept in
// this browser (IndexedDB) with their date and place, listed as waiting, and sent to
// POST /api/v1/identify when the connection returns, each then linking to its result.
// A photo of the wrong type or over the size limit is refused before it is kept. Nothing is
// sent twice: one sender at a time (a Web Lock across tabs), and a photo leaves the waiting
// list in the same step that records the server's answer. Texts come from the page, in its
// language (#offline-queue's data attributes).
(() => {
  "use strict";
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/sw.js").catch(() => {});
  }
  const TYPES = ["image/jpeg", "image/png", "image/webp", "image/gif", "image/bmp", "image/tiff"];
  const STORE = "photos";

  function openDb() {
    return new Promise((resolve, reject) => {
      const request = indexedDB.open("insectid-offline", 1);
      request.onupgradeneeded = () => request.result.createObjectStore(STORE, { keyPath: "id", autoIncrement: true });
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
  }

  async function withStore(mode, work) {
    const db = await openDb();
    return new Promise((resolve, reject) => {
      const transaction = db.transaction(STORE, mode);
      const request = work(transaction.objectStore(STORE));
      transaction.oncomplete = () => resolve(request ? request.result : undefined);
      transaction.onerror = () => reject(transaction.error);
    });
  }

  const everything = () => withStore("readonly", (s) => s.getAll());
  const keep = (item) => withStore("readwrite", (s) => s.put(item));

  const queue = () => document.getElementById("offline-queue");
  const text = (name) => (queue() && queue().dataset[name]) || name;

  function nowLocal() {
    const d = new Date();
    const two = (n) => String(n).padStart(2, "0");
    return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())}T${two(d.getHours())}:${two(d.getMinutes())}`;
  }

  async function render() {
    const section = queue();
    if (!section) return;
    const items = await everything();
    const list = section.querySelector("#offline-list");
    list.replaceChildren(
      ...items.map((item) => {
        const li = document.createElement("li");
        li.dataset.state = item.state;
        const when = [item.taken_at.replace("T", " "), item.latitude && `${item.latitude}, ${item.longitude}`].filter(Boolean).join(" · ");
        const name = document.createElement("strong");
        name.textContent = item.name;
        const detail = document.createElement("span");
        detail.className = "hint";
        detail.textContent = ` ${when} · `;
        li.append(name, detail);
        if (item.state === "sent") {
          const link = document.createElement("a");
          link.href = item.href;
          link.textContent = item.summary || text("sent");
          li.append(link);
        } else if (item.state === "refused") {
          const why = document.createElement("span");
          why.className = "error";
          why.textContent = `${text("refused")}: ${item.message}`;
          li.append(why);
        } else {
          const state = document.createElement("span");
          state.className = "upload-state";
          state.textContent = text("waiting");
          li.append(state);
        }
        return li;
      }),
    );
    section.hidden = items.length === 0;
  }

  function showProblems(problems) {
    const box = document.getElementById("offline-problem");
    if (!box) return;
    box.textContent = problems.join(" ");
    box.hidden = problems.length === 0;
  }

  // Offline, the upload form keeps its photos instead of sending them. (Capturing at the
  // window, ahead of the page's own handler, which would try to send.)
  window.addEventListener(
    "submit",
    async (event) => {
      const form = event.target;
      if (!(form instanceof HTMLFormElement) || form.id !== "upload-form" || navigator.onLine) return;
      event.preventDefault();
      event.stopImmediatePropagation();
      const input = form.querySelector("input[type=file]");
      const max = Number(form.dataset.maxBytes || 0);
      const field = (name) => ((form.querySelector(`[name="${name}"]`) || {}).value || "").trim();
      const problems = [];
      // The date and place are checked now, as the server will: a photo kept with values it
      // would refuse could never be sent.
      const [lat, lon] = [field("latitude"), field("longitude")];
      const degrees = (v, limit) => v !== "" && Number.isFinite(Number(v)) && Math.abs(Number(v)) <= limit;
      if ((lat || lon) && !(degrees(lat, 90) && degrees(lon, 180))) {
        showProblems([text("badPlace")]);
        return;
      }
      for (const file of Array.from(input.files || [])) {
        if (!TYPES.includes(file.type)) {
          problems.push(`${file.name}: ${text("wrongType")}`);
        } else if (max && file.size > max) {
          problems.push(`${file.name}: ${text("tooLarge")}`);
        } else {
          await keep({
            name: file.name,
            blob: file,
            taken_at: field("taken_at") || nowLocal(),
            latitude: field("latitude"),
            longitude: field("longitude"),
            kept_at: Date.now(),
            state: "waiting",
          });
        }
      }
      showProblems(problems);
      input.value = "";
      // The page's previews follow the emptied picker.
      input.dispatchEvent(new Event("change", { bubbles: true }));
      await render();
    },
    true,
  );

  async function sendOne(item) {
    const body = new FormData();
    for (const name of ["taken_at", "latitude", "longitude"]) {
      if (item[name]) body.append(name, item[name]);
    }
    body.append("image", item.blob, item.name);
    let response;
    try {
      response = await fetch("/api/v1/identify", {
        method: "POST",
        body,
        headers: { Accept: "application/json" },
        credentials: "same-origin",
      });
    } catch {
      return false; // still no connection: it waits
    }
    let answer = {};
    try {
      answer = await response.json();
    } catch {
      answer = {};
    }
    const result = response.ok && answer.results && answer.results[0];
    if (result && result.id) {
      await keep({ ...item, blob: null, state: "sent", href: `/results/${result.id}?key=${result.image_sha256}`, summary: result.summary });
      return true;
    }
    // The server refused this photo for good: say why, keep no copy. Not for "sign in again"
    // (401/403: it waits for the session), "busy" or "try later".
    const later = [401, 403, 408, 429];
    if (response.status >= 400 && response.status < 500 && !later.includes(response.status)) {
      await keep({ ...item, blob: null, state: "refused", message: answer.error || String(response.status) });
      return true;
    }
    return false;
  }

  async function sendWaiting() {
    if (!navigator.onLine) return render();
    const run = async () => {
      for (const item of await everything()) {
        if (item.state !== "waiting") continue;
        if (!(await sendOne(item))) break;
        await render();
      }
    };
    if (navigator.locks) {
      await navigator.locks.request("insectid-offline-send", run);
    } else {
      await run();
    }
    await render();
  }

  // The list goes in once the page has hydrated (or plainly, when its script never does),
  // so the page's own rendering never meets nodes it did not make.
  function whenSettled(then) {
    const app = document.querySelector(".app");
    if (!app || app.dataset.hydrated === "true") return then();
    let done = false;
    const once = () => {
      if (done) return;
      done = true;
      observer.disconnect();
      then();
    };
    const observer = new MutationObserver(() => app.dataset.hydrated === "true" && once());
    observer.observe(app, { attributes: true, attributeFilter: ["data-hydrated"] });
    setTimeout(once, 5000);
  }

  // A sent or refused photo is listed on the next visit of the page, then forgotten: its
  // place and link stay in this browser no longer than that.
  async function forgetShown() {
    const done = (await everything()).filter((i) => i.state !== "waiting");
    for (const item of done) {
      if (item.shown) {
        await withStore("readwrite", (s) => s.delete(item.id));
      } else {
        await keep({ ...item, shown: true });
      }
    }
  }

  window.addEventListener("online", () => sendWaiting().catch(() => {}));
  const start = () => whenSettled(() => forgetShown().then(sendWaiting).catch(() => render()));
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();

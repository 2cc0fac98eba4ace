// flashpipe dashboard: one tile per USB port, kept live from /events.
"use strict";
(() => {
  const token = new URLSearchParams(location.search).get("token") || "";
  const query = token ? "?token=" + encodeURIComponent(token) : "";

  const jobs = new Map();   // job id -> latest job
  const known = new Map();  // tile key -> last job seen there (kept when the port goes idle)
  const tiles = new Map();  // tile key -> element
  const grid = document.getElementById("tiles");

  const keyOf = (j) => (j.port ? "port:" + j.port : "dev:" + j.device);
  const label = (j) => (j.port ? "Port " + j.port : j.device || "job " + j.id);

  function mb(bytes) {
    if (bytes >= 1e9) return (bytes / 1e9).toFixed(1) + " GB";
    if (bytes >= 1e6) return (bytes / 1e6).toFixed(1) + " MB";
    return (bytes / 1e3).toFixed(1) + " kB";
  }
  function dur(ns) {
    let s = Math.round(ns / 1e9);
    const h = Math.floor(s / 3600); s -= h * 3600;
    const m = Math.floor(s / 60); s -= m * 60;
    const pad = (n) => String(n).padStart(2, "0");
    return h ? h + ":" + pad(m) + ":" + pad(s) : m + ":" + pad(s);
  }
  function el(tag, cls, parent) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (parent) parent.appendChild(e);
    return e;
  }

  function makeTile() {
    const t = el("article", "tile");
    const head = el("header", "", t);
    t._port = el("span", "port", head);
    t._badge = el("span", "badge", head);
    t._profile = el("div", "profile", t);
    t._step = el("div", "step", t);
    const bar = el("div", "bar", t);
    t._fill = el("div", "fill", bar);
    const nums = el("div", "nums", t);
    t._pct = el("span", "pct", nums);
    t._rate = el("span", "rate", nums);
    t._eta = el("span", "eta", nums);
    t._meta = el("div", "meta", t);
    t._error = el("div", "error", t);
    return t;
  }

  // A stick is "done" only when it was read back; a profile without a verify
  // step ends "written, not verified".
  const badges = { verified: "done ✓", unverified: "written, not verified", interrupted: "interrupted" };
  const waiting = { detected: "reading the stick…", matched: "matched", queued: "queued, waiting for a slot" };

  function fill(t, j) {
    const state = j.state;
    t.className = "tile state-" + state;
    t.dataset.job = state === "idle" ? "" : String(j.id);
    t._port.textContent = label(j);
    t._badge.textContent = badges[state] || state;
    const idle = state === "idle";
    t._profile.textContent = idle ? "ready for a stick" : (j.profile || (state === "ignored" ? "no profile matched" : state === "refused" ? "not written: see below" : "—"));
    t._step.textContent = j.step && j.step_index ? "step " + j.step_index + "/" + j.step_count + " · " + j.step : (waiting[state] || "");
    let frac = 0;
    if (state === "verified" || state === "unverified") frac = 1;
    else if (!idle && j.total > 0) frac = Math.min(1, j.done / j.total);
    t._fill.style.width = (frac * 100).toFixed(1) + "%";
    t._pct.textContent = idle ? "" : Math.floor(frac * 100) + "%";
    const running = state === "running";
    t._rate.textContent = running && j.rate > 0 ? (j.rate / 1e6).toFixed(1) + " MB/s" : "";
    if (running && j.eta_ns > 0) t._eta.textContent = "ETA " + dur(j.eta_ns);
    else if ((state === "verified" || state === "unverified") && j.started && j.updated) t._eta.textContent = "took " + dur((Date.parse(j.updated) - Date.parse(j.started)) * 1e6);
    else t._eta.textContent = "";
    const meta = [];
    if (idle && !j.id) {
      meta.push("no stick yet");
    } else if (!idle) {
      if (j.serial) meta.push("S/N " + j.serial);
      if (j.device) meta.push(j.device);
      if (j.size) meta.push(mb(j.size));
      if (j.vendor_id) meta.push(j.vendor_id + ":" + j.product_id);
      if (j.note) meta.push(j.note);
    } else if (j.serial) {
      meta.push("last: S/N " + j.serial);
    }
    t._meta.replaceChildren(...meta.map((m) => { const s = el("span"); s.textContent = m; return s; }));
    t._error.textContent = j.error || "";
  }

  let pending = false;
  function render() {
    pending = false;
    // The newest job on each key wins; a key with no job left shows idle.
    const latest = new Map();
    for (const j of jobs.values()) {
      const k = keyOf(j);
      if (!latest.has(k) || latest.get(k).id < j.id) latest.set(k, j);
    }
    for (const [k, j] of known) if (!latest.has(k)) latest.set(k, Object.assign({}, j, { state: "idle", error: "" }));
    const keys = [...latest.keys()].sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
    const counts = { running: 0, verified: 0, unverified: 0, failed: 0 };
    keys.forEach((k, i) => {
      let t = tiles.get(k);
      if (!t) { t = makeTile(); t.dataset.key = k; tiles.set(k, t); }
      fill(t, latest.get(k));
      if (grid.children[i] !== t) grid.insertBefore(t, grid.children[i] || null);
    });
    for (const [k, t] of tiles) if (!latest.has(k)) { t.remove(); tiles.delete(k); }
    for (const j of jobs.values()) if (j.state in counts) counts[j.state]++;
    for (const s in counts) document.getElementById("n-" + s).textContent = counts[s];
    document.getElementById("empty").hidden = keys.length > 0;
  }
  const schedule = () => { if (!pending) { pending = true; requestAnimationFrame(render); } };

  function apply(j) {
    known.set(keyOf(j), j);
    if (j.state === "idle") jobs.delete(j.id);
    else jobs.set(j.id, j);
  }

  function setConn(state, text) {
    const c = document.getElementById("conn");
    c.dataset.state = state;
    document.getElementById("conn-text").textContent = text;
  }

  // Ports the station serves get a tile even before any stick is seen.
  fetch("api/ports", { headers: token ? { Authorization: "Bearer " + token } : {} })
    .then((r) => (r.ok ? r.json() : []))
    .then((ports) => {
      for (const p of ports || []) if (!known.has("port:" + p)) known.set("port:" + p, { id: 0, port: p, state: "idle" });
      schedule();
    })
    .catch(() => {});

  const es = new EventSource("events" + query);
  es.addEventListener("open", () => setConn("live", "live"));
  es.addEventListener("error", () => setConn("down", "reconnecting…"));
  es.addEventListener("snapshot", (e) => {
    jobs.clear();
    for (const j of JSON.parse(e.data) || []) apply(j);
    setConn("live", "live");
    render(); // at once, so a first paint never shows an empty page
  });
  es.addEventListener("job", (e) => { apply(JSON.parse(e.data)); schedule(); });
  // Problems of the whole station (receipts that cannot be written), above the tiles.
  es.addEventListener("alerts", (e) => {
    const box = document.getElementById("alerts");
    box.replaceChildren(...(JSON.parse(e.data) || []).map((a) => { const p = el("p", "alert"); p.textContent = a.message; return p; }));
  });
})();

// The jcircus console: the daemons of the fleet, and the chosen daemon's watchers, processes, sockets and events,
// live. Everything goes through circus-httpd's API: GET /api/daemons, POST /api/COMMAND?daemon=NAME, and the
// server-sent streams /api/events, /api/stats?digest=1 and /api/output (read with fetch, so that every topic arrives
// whatever its name). The DOM is bounded: 200 events, 300 samples per chart, 2 000 log lines.
"use strict";

const MAX_EVENTS = 200;
const MAX_SAMPLES = 300;
const watchers = new Map(); // name -> {state, pids, cpu, rss, procs: Map(pid -> figures), samples}
let csrf = null; // the session's CSRF token, sent with every action
let admin = true; // false for a read-only account: its actions would be refused anyway
const $ = (sel) => document.querySelector(sel);
// the daemon on show, and the controller that ends its streams when another is chosen
const current = {name: "", abort: new AbortController()};
const q = (path) => path + (path.includes("?") ? "&" : "?") + "daemon=" + encodeURIComponent(current.name);

function show(text, isError) {
  const r = $("#reply");
  r.textContent = text;
  r.className = isError ? "error" : "";
}

function daemon(up) {
  const d = $("#daemon");
  d.textContent = (current.name ? current.name + " " : "") + (up ? "up" : "unreachable");
  d.className = "badge " + (up ? "up" : "down");
  document.body.classList.toggle("daemon-down", !up); // what is shown is the last known, greyed
}

async function call(command, props = {}, quiet = false) {
  let res;
  try {
    const headers = {"Content-Type": "application/json"};
    if (csrf) {
      headers["X-CSRF-Token"] = csrf;
    }
    res = await fetch(q("/api/" + command), {method: "POST", body: JSON.stringify(props), headers});
  } catch (e) {
    daemon(false);
    throw e;
  }
  if (res.status === 401) {
    location.href = "/login";
  }
  const text = await res.text();
  let reply;
  try {
    reply = JSON.parse(text);
  } catch (e) {
    reply = {status: "error", reason: text};
  }
  daemon(res.status !== 502);
  if (!quiet || reply.status === "error") {
    show(command + " " + JSON.stringify(props) + " → " + text, reply.status === "error");
  }
  return reply;
}

async function refresh() {
  const on = current.name;
  try {
    const status = await call("status", {}, true);
    if (status.status !== "ok" || on !== current.name) {
      return;
    }
    const names = Object.keys(status.statuses).sort();
    for (const name of [...watchers.keys()]) {
      if (!names.includes(name)) {
        watchers.delete(name);
      }
    }
    for (const name of names) {
      const w = watchers.get(name) || {procs: new Map(), samples: [[], [], []]};
      w.state = status.statuses[name];
      const list = await call("list", {name}, true);
      if (on !== current.name) {
        return; // another daemon was chosen meanwhile
      }
      w.pids = list.status === "ok" ? list.pids : [];
      for (const pid of [...w.procs.keys()]) {
        if (!w.pids.includes(pid)) {
          w.procs.delete(pid);
        }
      }
      watchers.set(name, w);
    }
    render();
  } catch (e) {
    daemon(false);
  }
}

function human(bytes) {
  const units = ["B", "KiB", "MiB", "GiB"];
  let i = 0;
  while (bytes >= 1024 && i < units.length - 1) {
    bytes /= 1024;
    i++;
  }
  return bytes.toFixed(i ? 1 : 0) + " " + units[i];
}

function button(label, title, action, danger) {
  const b = document.createElement("button");
  b.textContent = label;
  b.title = title;
  b.dataset.action = label;
  if (danger) {
    b.className = "danger";
  }
  b.addEventListener("click", action);
  return b;
}

function confirmThen(question, fn) {
  return () => {
    if (window.confirm(question)) {
      fn();
    }
  };
}

function cell(tr, cls) {
  const td = document.createElement("td");
  if (cls) {
    td.className = cls;
  }
  tr.appendChild(td);
  return td;
}

function set(td, text, cls) {
  if (td.textContent !== text) {
    td.textContent = text;
  }
  if (cls !== undefined && td.className !== cls) {
    td.className = cls;
  }
}

// Rows are made once and updated in place: a stats message each second must not replace a button under the
// pointer, nor the row a test or a screen reader holds.
function watcherRow(name) {
  const tr = document.createElement("tr");
  tr.dataset.watcher = name;
  set(cell(tr), name);
  cell(tr, "state");
  cell(tr, "num processes");
  cell(tr, "num cpu");
  cell(tr, "num rss");
  const after = () => setTimeout(refresh, 50);
  cell(tr).append(
    button("start", "start " + name, () => call("start", {name, waiting: true}).then(after)),
    button("stop", "stop " + name, confirmThen("Stop every process of " + name + "?",
      () => call("stop", {name, waiting: true}).then(after)), true),
    button("restart", "restart " + name, confirmThen("Restart " + name + "?",
      () => call("restart", {name, waiting: true}).then(after)), true),
    button("reload", "rolling reload of " + name, confirmThen("Rolling reload of " + name + "?",
      () => call("reload", {name, sequential: true, waiting: true}).then(after))),
    button("+1", "one more process", () => call("incr", {name, nb: 1, waiting: true}).then(after)),
    button("−1", "one process fewer", () => call("decr", {name, nb: 1, waiting: true}).then(after), true),
    button("set…", "set the number of processes of " + name, () => {
      const n = window.prompt("Number of processes of " + name + ":", String(watchers.get(name).pids.length));
      if (n !== null && /^\d+$/.test(n.trim())) {
        call("set", {name, options: {numprocesses: Number(n.trim())}, waiting: true}).then(after);
      }
    }),
    button("signal…", "send a signal to every process of " + name, () => {
      const sig = window.prompt("Signal for every process of " + name + " (e.g. HUP, USR1, TERM):", "HUP");
      if (sig !== null && /^[A-Za-z0-9]+$/.test(sig.trim())) {
        call("signal", {name, signum: sig.trim().toUpperCase()});
      }
    }),
    button("remove", "remove " + name, confirmThen("Remove " + name + " and stop its processes?",
      () => call("rm", {name, waiting: true}).then(after)), true));
  return tr;
}

function processRow(name, pid) {
  const tr = document.createElement("tr");
  tr.className = "process";
  tr.dataset.pid = pid;
  set(cell(tr), "pid " + pid);
  cell(tr, "age");
  cell(tr);
  cell(tr, "num cpu");
  cell(tr, "num rss");
  cell(tr).append(button("HUP", "send SIGHUP to " + pid, () => call("signal", {name, pid, signum: "HUP"})));
  return tr;
}

const rows = new Map(); // "w:NAME" or "p:PID" -> tr

function render() {
  const body = $("#watchers tbody");
  const wanted = [];
  for (const [name, w] of watchers) {
    const key = "w:" + name;
    const tr = rows.get(key) || watcherRow(name);
    rows.set(key, tr);
    const c = tr.children;
    set(c[1], w.state, "state state-" + w.state);
    set(c[2], String(w.pids.length));
    set(c[3], w.cpu !== undefined ? w.cpu.toFixed(1) : "—"); // — until the stats stream speaks
    set(c[4], w.rss !== undefined ? human(w.rss) : "—");
    wanted.push(tr);
    for (const pid of w.pids) {
      const pkey = "p:" + pid;
      const pr = rows.get(pkey) || processRow(name, pid);
      rows.set(pkey, pr);
      const p = w.procs.get(pid) || {};
      const pc = pr.children;
      set(pc[1], p.age !== undefined ? "up " + Math.round(p.age) + " s" : "");
      set(pc[3], p.cpu !== undefined ? p.cpu.toFixed(1) : "");
      set(pc[4], p.rss !== undefined ? human(p.rss) : "");
      wanted.push(pr);
    }
  }
  const keep = new Set(wanted);
  for (const [key, tr] of rows) {
    if (!keep.has(tr)) {
      rows.delete(key);
      tr.remove();
    }
  }
  wanted.forEach((tr, i) => {
    if (body.children[i] !== tr) {
      body.insertBefore(tr, body.children[i] || null);
    }
  });
}

// ---------------------------------------------------------------- charts

const charts = new Map();

function chart(name, w) {
  let c = charts.get(name);
  if (!c && window.uPlot) {
    const box = document.createElement("div");
    box.dataset.chart = name;
    $("#charts").appendChild(box);
    c = new uPlot({title: name, width: Math.min(420, document.documentElement.clientWidth - 30), height: 180,
      // the last 5 minutes, however few samples there are yet (uPlot would spread one sample over years)
      scales: {x: {time: true, range: (u, min, max) => [max - MAX_SAMPLES, max]}},
      series: [{}, {label: "CPU %", stroke: "#0b5cad"}, {label: "RSS MiB", stroke: "#1a7f37", scale: "mem"}],
      axes: [{values: (u, ticks) => ticks.map((t) => new Date(t * 1000).toLocaleTimeString([],
        {hour: "2-digit", minute: "2-digit"}))}, {}, {scale: "mem", side: 1}]}, w.samples, box);
    charts.set(name, c);
  }
  return c;
}

window.addEventListener("resize", () => {
  const width = Math.min(420, document.documentElement.clientWidth - 30);
  for (const c of charts.values()) {
    c.setSize({width, height: 180});
  }
});

function sample(name, agg) {
  const w = watchers.get(name);
  if (!w) {
    return;
  }
  w.cpu = agg.cpu || 0;
  w.rss = agg.rss || 0;
  const [t, cpu, mem] = w.samples;
  t.push(Date.now() / 1000);
  cpu.push(w.cpu);
  mem.push(w.rss / 1048576);
  if (t.length > MAX_SAMPLES) {
    t.shift();
    cpu.shift();
    mem.shift();
  }
  const c = chart(name, w);
  if (c) {
    c.setData(w.samples);
  }
}

// ---------------------------------------------------------------- streams

async function follow(url, onMessage) {
  const signal = current.abort.signal; // ends when another daemon is chosen
  while (!signal.aborted) {
    try {
      await readEvents(await fetch(q(url), {signal}), onMessage);
    } catch (e) {
      if (signal.aborted) {
        return;
      }
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

let renderPending = false;

function renderSoon() {
  if (!renderPending) {
    renderPending = true;
    requestAnimationFrame(() => {
      renderPending = false;
      render();
    });
  }
}

// One message a second: every stats topic of the burst with its figures (the page's form of /api/stats).
function onDigest(topic, digest) {
  for (const [t, data] of Object.entries(digest)) {
    onStat(t, data);
  }
}

const sockets = new Map(); // fd -> figures of stat.sockets.FD
let circusd = null; // stat.circus: circusd's own figures and the system's

function onStat(topic, data) {
  const parts = topic.split("."); // stat.NAME or stat.NAME.PID
  if (parts[1] === "sockets") {
    if (parts.length === 3) {
      sockets.set(parts[2], Object.assign(data, {seen: Date.now()}));
    }
  } else if (parts[1] === "circus") {
    if (parts.length === 2) {
      circusd = Object.assign(circusd || {}, data);
    } else {
      circusd = Object.assign(circusd || {}, {pid: data.pid, cpu1: data.cpu, rss: data.rss, age: data.age});
    }
  } else if (parts.length === 2) {
    sample(parts[1], data);
  } else if (parts.length === 3) {
    const w = watchers.get(parts[1]);
    if (w) {
      w.procs.set(Number(parts[2]), {cpu: data.cpu, rss: data.rss, age: data.age});
    }
  }
  renderSoon();
}

function onEvent(topic, data) {
  const li = document.createElement("li");
  const when = new Date((data.time || Date.now() / 1000) * 1000).toLocaleTimeString();
  const detail = Object.entries(data).filter(([k]) => k !== "time").map(([k, v]) => k + "=" + v).join(" ");
  li.textContent = when + "  " + topic + "  " + detail;
  const filter = $("#event-filter").value;
  li.hidden = filter !== "" && !li.textContent.includes(filter);
  const list = $("#events");
  list.prepend(li);
  while (list.children.length > MAX_EVENTS) {
    list.lastChild.remove();
  }
  if (/\.(spawn|reap|start|stop|add|remove|reload)$/.test(topic)) {
    setTimeout(refresh, 50);
  }
}

$("#add-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const name = $("#add-name").value.trim();
  const cmd = $("#add-cmd").value.trim();
  const n = Number($("#add-n").value || "1");
  if (name && cmd) {
    call("add", {name, cmd, start: true, waiting: true, options: {numprocesses: n}}).then((r) => {
      if (r.status === "ok") {
        $("#add-form").reset();
      }
      setTimeout(refresh, 50);
    });
  }
});

$("#event-filter").addEventListener("input", () => {
  const filter = $("#event-filter").value;
  for (const li of $("#events").children) {
    li.hidden = filter !== "" && !li.textContent.includes(filter);
  }
});

async function start() {
  const res = await fetch("/api/session");
  if (res.status === 401) {
    location.href = "/login";
    return;
  }
  const session = await res.json();
  csrf = session.csrf;
  if (session.user) {
    const who = document.createElement("span");
    who.className = "badge";
    who.textContent = session.user + (session.admin ? "" : " (read-only)");
    const out = button("log out", "log out", async () => {
      await fetch("/logout", {method: "POST", headers: {"X-CSRF-Token": csrf}});
      location.href = "/login";
    });
    $("header").append(who, out);
  }
  admin = session.admin;
  document.body.classList.toggle("read-only", !admin);
  await fleet();
  const wanted = decodeURIComponent(location.hash.replace(/^#daemon=/, ""));
  choose(daemons.some((d) => d.name === wanted) ? wanted : (daemons[0] || {}).name || "");
  setInterval(refresh, 5000);
  setInterval(fleet, 2000);
}

// ---------------------------------------------------------------- the fleet
// Every daemon this console watches, with the health circus-httpd probes every 2 s; one is on show below.

let daemons = [];

async function fleet() {
  try {
    const res = await fetch("/api/daemons");
    if (res.status === 401) {
      location.href = "/login";
      return;
    }
    daemons = (await res.json()).daemons || [];
  } catch (e) {
    return;
  }
  const body = $("#daemons tbody");
  const have = new Map([...body.children].map((tr) => [tr.dataset.daemon, tr]));
  daemons.forEach((d, i) => {
    let tr = have.get(d.name);
    if (!tr) {
      tr = document.createElement("tr");
      tr.dataset.daemon = d.name;
      const name = cell(tr);
      name.append(button(d.name, "show " + d.name, () => choose(d.name)));
      cell(tr);
      cell(tr, "state");
      cell(tr, "num");
      cell(tr, "num");
      cell(tr, "since");
      const acts = cell(tr);
      if (d.removable) {
        acts.append(button("remove", "stop watching " + d.name, confirmThen("Stop watching " + d.name + "?",
          () => changeFleet("remove", {name: d.name})), true));
      }
    }
    const c = tr.children;
    set(c[1], d.endpoint + (d.curve ? " (CURVE)" : ""));
    set(c[2], d.state === "up" ? "up" : d.state === "down" ? "unreachable" : d.state, "state daemon-" + d.state);
    c[2].title = d.reason || "";
    set(c[3], d.state === "up" ? d.active + " / " + d.watchers + " active" : "—");
    set(c[4], d.state === "up" ? String(d.processes) : "—");
    set(c[5], (d.state === "up" ? "up " : "since ") + ago(d.since));
    tr.classList.toggle("current", d.name === current.name);
    if (body.children[i] !== tr) {
      body.insertBefore(tr, body.children[i] || null);
    }
    have.delete(d.name);
  });
  for (const tr of have.values()) {
    tr.remove();
  }
  const sel = $("#daemon-select");
  const names = daemons.map((d) => d.name);
  if ([...sel.options].map((o) => o.value).join("\n") !== names.join("\n")) {
    sel.replaceChildren(...names.map((n) => Object.assign(document.createElement("option"), {value: n, textContent: n})));
  }
  sel.value = current.name;
  const me = daemons.find((d) => d.name === current.name);
  if (me) {
    daemon(me.state === "up");
  }
  $("#fleet-section").hidden = daemons.length < 2 && !fleetOpen;
}

let fleetOpen = false;

function ago(seconds) {
  const s = Math.max(0, Math.round(Date.now() / 1000 - seconds));
  return s < 120 ? s + " s" : s < 7200 ? Math.round(s / 60) + " min" : Math.round(s / 3600) + " h";
}

async function changeFleet(action, props) {
  const res = await fetch("/api/daemons/" + action, {method: "POST", body: JSON.stringify(props),
    headers: Object.assign({"Content-Type": "application/json"}, csrf ? {"X-CSRF-Token": csrf} : {})});
  const text = await res.text();
  show(action + " " + JSON.stringify(props) + " → " + text, !res.ok);
  await fleet();
  if (action === "remove" && props.name === current.name) {
    choose((daemons[0] || {}).name || "");
  }
  return res.ok;
}

// Shows another daemon: its streams replace the last one's, and what the page held of that one goes.
function choose(name) {
  if (name === current.name && current.started) {
    return;
  }
  current.abort.abort();
  Object.assign(current, {name, abort: new AbortController(), started: true});
  history.replaceState(null, "", "#daemon=" + encodeURIComponent(name));
  watchers.clear();
  for (const tr of rows.values()) {
    tr.remove();
  }
  rows.clear();
  for (const c of charts.values()) {
    c.destroy();
  }
  charts.clear();
  $("#charts").replaceChildren();
  sockets.clear();
  circusd = null;
  $("#events").replaceChildren();
  $("#log-watcher").replaceChildren(Object.assign(document.createElement("option"), {value: "", textContent: "watcher…"}));
  followLog("");
  for (const tr of $("#daemons tbody").children) {
    tr.classList.toggle("current", tr.dataset.daemon === name);
  }
  $("#daemon-select").value = name;
  if (!name) {
    return;
  }
  refresh();
  follow("/api/events", onEvent);
  follow("/api/stats?digest=1", onDigest);
}

$("#daemon-select").addEventListener("change", () => choose($("#daemon-select").value));
$("#fleet-toggle").addEventListener("click", () => {
  fleetOpen = !fleetOpen;
  $("#fleet-section").hidden = false;
  $("#fleet-section").scrollIntoView();
});
$("#fleet-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const props = {name: $("#fleet-name").value.trim(), endpoint: $("#fleet-endpoint").value.trim()};
  const key = $("#fleet-key").value.trim();
  if (key) {
    props.curve_server_key = key;
  }
  if (await changeFleet("add", props)) {
    $("#fleet-form").reset();
  }
});

// ---------------------------------------------------------------- sockets and circusd itself

function renderSockets() {
  const body = $("#sockets tbody");
  const now = Date.now();
  const list = [...sockets.entries()].filter(([, s]) => now - s.seen < 5000)
    .sort((a, b) => String(a[1].name).localeCompare(String(b[1].name)));
  $("#sockets-section").hidden = list.length === 0;
  while (body.children.length > list.length) {
    body.lastChild.remove();
  }
  list.forEach(([fd, s], i) => {
    let tr = body.children[i];
    if (!tr) {
      tr = document.createElement("tr");
      for (const cls of ["", "", "num", "num", "num", "num"]) {
        cell(tr, cls);
      }
      body.appendChild(tr);
    }
    const c = tr.children;
    set(c[0], String(s.name));
    set(c[1], String(s.address));
    set(c[2], String(s.queue));
    set(c[3], String(s.queue_max));
    set(c[4], String(s.backlog));
    set(c[5], fd);
  });
  const fig = $("#circusd");
  if (!circusd) {
    set(fig, "");
    return;
  }
  let text = "circusd" + (circusd.pid ? " pid " + circusd.pid : "")
    + " · CPU " + (circusd.cpu1 !== undefined ? circusd.cpu1.toFixed(1) : "—") + " %"
    + (circusd.rss !== undefined ? " · RSS " + human(circusd.rss) : "");
  const sys = circusd.system;
  if (sys) {
    text += " · system: " + sys.cpus + " CPUs at " + Number(sys.cpu).toFixed(0) + " %, load " + sys.load
      + ", memory " + human(sys.mem_total - sys.mem_available) + " of " + human(sys.mem_total);
  }
  set(fig, text);
}

setInterval(renderSockets, 1000);

start();

// ---------------------------------------------------------------- logs
// A watcher's output: the ring first, then every chunk as it comes (sequence numbers make the hand-over exact and
// show what was lost). A flood never freezes the page: lines wait in a bounded queue (what overflows is counted as
// skipped), at most LOG_BATCH are drawn per frame, and the view keeps the last LOG_LINES.

const LOG_LINES = 2000;
const LOG_QUEUE = 2000;
const LOG_BATCH = 400;
// last: circusd's watcher-wide sequence number of the last line seen; lastP: the process-wide one (pseq), which
// shows losses when the view follows one process (the watcher-wide numbers then skip the others' lines)
// dropped: chunks circusd could not queue for its publisher since the view began (its header counts them)
const log = {watcher: "", pid: "", abort: null, queue: [], last: -1, lastP: -1, shown: 0, skipped: 0, lost: 0,
  dropped: 0, droppedAt: -1, paused: false};

function logStatus() {
  $("#log-status").textContent = log.watcher ? log.shown + " lines" + (log.paused ? ", paused" : "")
    + (log.skipped ? ", " + log.skipped + " skipped (too fast to draw)" : "")
    + (log.lost ? ", " + log.lost + " lost in transit (download has what the ring holds)" : "")
    + (log.dropped ? ", " + log.dropped + " chunks dropped by circusd" : "") : "";
}

function logLine(seq, pid, stream, text) {
  if (seq <= log.last) {
    return; // the ring already gave it
  }
  log.last = seq;
  const want = $("#log-stream").value;
  if (want && stream !== want) {
    return;
  }
  log.queue.push({pid, stream, text});
  if (log.queue.length >= LOG_QUEUE + 500) { // trimmed in bulk: a flood costs O(1) a line, not a shift each
    const n = log.queue.length - LOG_QUEUE;
    log.queue.splice(0, n);
    log.skipped += n;
  }
}

function onLog(topic, data) {
  if (topic === "ring") {
    if (data.status !== "ok") {
      show("output " + log.watcher + " → " + JSON.stringify(data), true);
      return;
    }
    for (const l of data.lines) {
      logLine(l.seq, l.pid, l.stream, l.data.replace(/\n$/, ""));
      log.lastP = Math.max(log.lastP, l.pseq);
    }
    log.last = Math.max(log.last, data.next_seq - 1);
    return;
  }
  const meta = data.meta;
  if (typeof meta.dropped === "number") {
    if (log.droppedAt < 0) {
      log.droppedAt = meta.dropped;
    }
    log.dropped = meta.dropped - log.droppedAt;
  }
  const lines = data.text.split("\n");
  if (lines.length && lines[lines.length - 1] === "") {
    lines.pop();
  }
  if (log.pid) {
    if (log.lastP >= 0 && meta.pseq > log.lastP + 1) {
      log.lost += meta.pseq - log.lastP - 1;
    }
    log.lastP = Math.max(log.lastP, meta.pseq + lines.length - 1);
  } else if (log.last >= 0 && meta.seq > log.last + 1) {
    log.lost += meta.seq - log.last - 1;
  }
  lines.forEach((text, i) => logLine(meta.seq + i, meta.pid, meta.stream, text));
}

function drawLog() {
  if (!log.paused && log.queue.length) {
    const box = $("#log");
    const atBottom = box.scrollTop + box.clientHeight >= box.scrollHeight - 4;
    const batch = log.queue.splice(0, LOG_BATCH);
    const filter = $("#log-filter").value;
    const frag = document.createDocumentFragment();
    for (const l of batch) {
      const div = document.createElement("div");
      div.className = l.stream;
      const pid = document.createElement("span");
      pid.className = "pid";
      pid.textContent = l.pid + " ";
      div.append(pid, l.text);
      div.hidden = filter !== "" && !l.text.includes(filter);
      frag.appendChild(div);
    }
    box.appendChild(frag);
    while (box.children.length > LOG_LINES) {
      box.firstChild.remove();
    }
    log.shown += batch.length;
    if (atBottom) {
      box.scrollTop = box.scrollHeight;
    }
  }
  logStatus();
  requestAnimationFrame(drawLog);
}

async function followLog(watcher, pid = "") {
  if (log.abort) {
    log.abort.abort();
  }
  Object.assign(log, {watcher, pid, abort: null, queue: [], last: -1, lastP: -1, shown: 0, skipped: 0, lost: 0,
    dropped: 0, droppedAt: -1});
  $("#log").replaceChildren();
  if (!watcher) {
    return;
  }
  const abort = new AbortController();
  log.abort = abort;
  while (!abort.signal.aborted) {
    try {
      const res = await fetch(q("/api/output?watcher=" + encodeURIComponent(watcher))
        + (pid ? "&pid=" + encodeURIComponent(pid) : ""), {signal: abort.signal});
      await readEvents(res, onLog);
    } catch (e) {
      if (abort.signal.aborted) {
        return;
      }
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

async function readEvents(res, onMessage) {
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const {value, done} = await reader.read();
    if (done) {
      return;
    }
    buffer += decoder.decode(value, {stream: true});
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let topic = null;
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event: ")) {
          topic = line.slice(7);
        } else if (line.startsWith("data: ")) {
          data.push(line.slice(6));
        }
      }
      if (topic) {
        try {
          onMessage(topic, JSON.parse(data.join("\n")));
        } catch (e) {
          // not JSON: skipped
        }
      }
    }
  }
}

$("#log-watcher").addEventListener("change", () => {
  $("#log-pid").value = "";
  followLog($("#log-watcher").value);
});
$("#log-pid").addEventListener("change", () => followLog($("#log-watcher").value, $("#log-pid").value));
$("#log-stream").addEventListener("change", () => followLog($("#log-watcher").value, $("#log-pid").value));
$("#log-filter").addEventListener("input", () => {
  const filter = $("#log-filter").value;
  for (const div of $("#log").children) {
    div.hidden = filter !== "" && !div.textContent.includes(filter);
  }
});
$("#log-pause").addEventListener("click", () => {
  log.paused = !log.paused;
  $("#log-pause").textContent = log.paused ? "resume" : "pause";
  logStatus();
});
$("#log-download").addEventListener("click", async () => {
  if (!log.watcher) {
    return;
  }
  const r = await call("output", {name: log.watcher, lines: 1000}, true);
  if (r.status !== "ok") {
    return;
  }
  const text = r.lines.map((l) => l.pid + " " + l.stream + " " + l.data).join("");
  const a = document.createElement("a");
  a.href = URL.createObjectURL(new Blob([text], {type: "text/plain"}));
  a.download = log.watcher + ".log";
  a.click();
  URL.revokeObjectURL(a.href);
});

function logWatchers() {
  const pids = $("#log-pid");
  const w = watchers.get(log.watcher);
  const wanted = w ? w.pids.map(String) : [];
  for (const o of [...pids.options]) {
    if (o.value && !wanted.includes(o.value) && o.value !== log.pid) {
      o.remove();
    }
  }
  const listed = new Set([...pids.options].map((o) => o.value));
  for (const p of wanted) {
    if (!listed.has(p)) {
      const o = document.createElement("option");
      o.value = p;
      o.textContent = "pid " + p;
      pids.appendChild(o);
    }
  }
  const sel = $("#log-watcher");
  const have = new Set([...sel.options].map((o) => o.value));
  for (const name of watchers.keys()) {
    if (!have.has(name)) {
      const o = document.createElement("option");
      o.value = o.textContent = name;
      sel.appendChild(o);
    }
  }
}

// Losses at the tail of a burst show in no later chunk: every 2 s the ring says what the newest line is, and
// what never arrived of it counts as lost.
async function checkTail() {
  if (!log.watcher || log.last < 0) {
    return;
  }
  const props = {name: log.watcher, lines: 1};
  if (log.pid) {
    props.pid = Number(log.pid);
  }
  const r = await call("output", props, true).catch(() => null);
  if (!r || r.status !== "ok" || !r.lines.length) {
    return;
  }
  const newest = r.lines[r.lines.length - 1];
  if (log.pid) {
    if (newest.pseq > log.lastP + 1) {
      log.lost += newest.pseq - log.lastP - 1;
      log.lastP = newest.pseq - 1;
    }
  } else if (newest.seq > log.last + 1) {
    log.lost += newest.seq - log.last - 1;
    log.last = newest.seq - 1;
  }
}

setInterval(checkTail, 2000);
setInterval(logWatchers, 1000);
requestAnimationFrame(drawLog);

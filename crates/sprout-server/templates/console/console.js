// Sprout console: the live parts of the environment page. Graphs drawn as SVG polylines from
// the page's server-sent event stream (one per open page), status and events updated in place,
// the draft schedule's 7-day preview as the user types, and the terminate button enabled only
// once the environment's name is typed; containers' CPU and memory, uploading a bundle, and
// following logs. No library, no build step.
"use strict";
(function () {
  const KEEP = 900;
  const graphs = document.getElementById("graphs");
  const points = [];
  const SERIES = {
    requests: [["req", "line"]],
    status: [["s2", "s2"], ["s3", "s3"], ["s4", "s4"], ["s5", "s5"]],
    latency: [["p50", "p50"], ["p99", "p99"]],
    instances: [["des", "des"], ["ins", "ins"]],
    held: [["held", "line"]],
  };
  function value(p, key) {
    if (key[0] === "s" && key.length === 2) return p.s[Number(key[1]) - 1];
    return p[key];
  }
  function draw() {
    const now = points.length ? points[points.length - 1].t : 0;
    for (const svg of graphs.querySelectorAll("svg[data-chart]")) {
      const series = SERIES[svg.dataset.chart];
      let top = 1;
      for (const p of points) for (const [k] of series) top = Math.max(top, value(p, k) || 0);
      let html = "";
      for (const [k, cls] of series) {
        const pts = [];
        for (const p of points) {
          const v = value(p, k);
          if (v === null || v === undefined) continue;
          pts.push((KEEP - 1 - (now - p.t)) + "," + (98 - 94 * v / top).toFixed(1));
        }
        html += '<polyline class="' + cls + '" points="' + pts.join(" ") + '"/>';
      }
      svg.innerHTML = html;
      const label = svg.parentElement.querySelector(".top");
      if (label) label.textContent = " · top " + (Math.round(top * 100) / 100);
    }
    graphs.dataset.points = String(points.length);
    graphs.dataset.last = String(now);
  }
  function setText(id, text) {
    const el = document.getElementById(id);
    if (el && el.textContent !== String(text)) el.textContent = text;
  }
  if (graphs && window.EventSource) {
    document.getElementById("graphs-note").textContent = "Updated every second from the load balancer.";
    const source = new EventSource(graphs.dataset.live);
    source.addEventListener("points", (e) => {
      for (const p of JSON.parse(e.data)) points.push(p);
      while (points.length > KEEP) points.shift();
      draw();
    });
    source.addEventListener("state", (e) => {
      const s = JSON.parse(e.data);
      setText("status", s.status);
      setText("health", s.health);
      setText("version", s.version);
      setText("in-service", s.in_service);
      setText("desired", s.desired);
      const dot = document.getElementById("health-dot");
      if (dot) dot.className = "dot " + s.health.toLowerCase();
      const causes = document.getElementById("causes");
      if (causes) {
        causes.replaceChildren(...s.causes.map((c) => {
          const li = document.createElement("li");
          li.textContent = c;
          return li;
        }));
      }
    });
    source.addEventListener("event", (e) => {
      const ev = JSON.parse(e.data);
      const list = document.getElementById("events");
      if (!list || list.querySelector('[data-id="' + ev.id + '"]')) return;
      const li = document.createElement("li");
      li.dataset.id = ev.id;
      li.className = ev.level.toLowerCase();
      const time = document.createElement("time");
      time.textContent = ev.at.replace("T", " ").slice(0, 19);
      const b = document.createElement("b");
      b.textContent = ev.level;
      li.append(time, " ", b, " " + ev.message);
      list.prepend(li);
    });
    source.addEventListener("minutes", (e) => {
      const minutes = JSON.parse(e.data);
      const svg = document.getElementById("day");
      if (!svg) return;
      const end = Math.floor(Date.now() / 1000);
      let top = 1;
      for (const m of minutes) top = Math.max(top, m.req);
      const line = (key) => minutes
        .map((m) => (1439 - Math.floor((end - m.t) / 60)) + "," + (98 - 94 * m[key] / top).toFixed(1))
        .join(" ");
      svg.innerHTML = '<polyline class="line" points="' + line("req") + '"/><polyline class="s5" points="' + line("s5") + '"/>';
      const label = svg.parentElement.querySelector(".top");
      if (label) label.textContent = minutes.length ? " · top " + top : " · no minute older than 15 minutes yet";
    });
    source.addEventListener("end", () => source.close());
  }

  const form = document.getElementById("schedule-form");
  if (form) {
    const out = document.getElementById("draft-preview");
    let timer = 0;
    const update = () => {
      const q = new URLSearchParams();
      for (const name of ["name", "recurrence", "time_zone", "min", "max", "desired"]) {
        q.set(name, form.elements[name].value);
      }
      if (!form.elements.recurrence.value.trim()) {
        out.replaceChildren();
        return;
      }
      fetch(form.dataset.preview + "?" + q.toString(), { credentials: "same-origin" })
        .then((r) => r.json())
        .then((a) => {
          const items = a.error
            ? [Object.assign(document.createElement("li"), { className: "error", textContent: a.error })]
            : a.changes.map((c) => {
                const li = document.createElement("li");
                li.textContent = c.local + " " + c.action + ": min " + c.min + " max " + c.max + " desired " + c.desired;
                return li;
              });
          out.replaceChildren(...items);
        })
        .catch(() => {});
    };
    form.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(update, 250);
    });
  }

  // Containers' CPU and memory: the engine takes about a second to sample them, so they come
  // after the page, and again every 30 s while it is open.
  const instances = document.getElementById("instances");
  if (instances && instances.dataset.usage) {
    const mb = (b) => (b / 1e6).toFixed(1) + " MB";
    // Asked again within seconds while a container's cell is still empty (right after a deploy
    // the page may list an instance the engine's stats cannot answer for yet), then every 30 s.
    let quick = 15;
    const again = (empty) => setTimeout(usage, empty && quick-- > 0 ? 2000 : 30000);
    const usage = () => fetch(instances.dataset.usage, { credentials: "same-origin" })
      .then((r) => r.json())
      .then((a) => {
        let unknown = false;
        for (const u of a.usage || []) {
          const cells = [...instances.querySelectorAll(".usage")].filter((cell) => cell.dataset.usage === u.container);
          unknown = unknown || cells.length === 0;
          for (const cell of cells) {
            cell.textContent = "CPU " + u.cpu_percent.toFixed(1) + "%, memory " + mb(u.memory_bytes) + " of " + mb(u.memory_limit_bytes);
          }
        }
        const changed = document.getElementById("instances-changed");
        if (changed) changed.hidden = !unknown;
        instances.dataset.usageShown = String((a.usage || []).length);
        again([...instances.querySelectorAll(".usage")].some((cell) => !cell.textContent));
      })
      .catch(() => again(true));
    usage();
  }

  // Uploading a bundle: the file is the request's body, as `sprout deploy --bundle` sends it.
  const upload = document.getElementById("upload-form");
  if (upload) {
    upload.addEventListener("submit", (e) => {
      e.preventDefault();
      const file = upload.elements.bundle.files[0];
      if (!file) return;
      const q = new URLSearchParams();
      q.set("label", upload.elements.label.value);
      q.set("description", upload.elements.description.value);
      if (upload.elements.deploy.checked) q.set("deploy", "on");
      const note = document.getElementById("upload-note");
      note.textContent = "Uploading " + file.name + "…";
      document.getElementById("upload-submit").disabled = true;
      fetch(upload.action + "?" + q.toString(), {
        method: "POST",
        credentials: "same-origin",
        headers: { "x-csrf-token": upload.dataset.csrf, "content-type": "application/octet-stream" },
        body: file,
      })
        .then(() => { window.location.assign(window.location.pathname); })
        .catch((err) => {
          note.textContent = "The upload failed: " + err;
          document.getElementById("upload-submit").disabled = false;
        });
    });
  }

  // The logs page: Follow asks for the last lines once a second and appends the new ones.
  const follow = document.getElementById("follow");
  if (follow) {
    follow.hidden = false;
    let timer = 0;
    const shown = new Map();
    for (const sec of document.querySelectorAll("[data-log]")) {
      shown.set(sec.dataset.log, sec.querySelector("pre").textContent.split("\n").filter((l) => l !== ""));
    }
    // How many leading lines of `now` were already shown: the longest end of `old` that begins
    // `now` (the window moves on as lines are appended), as `sprout logs -f` finds it.
    const overlap = (old, now) => {
      for (let k = Math.min(old.length, now.length); k > 0; k--) {
        let same = true;
        for (let i = 0; i < k && same; i++) same = old[old.length - k + i] === now[i];
        if (same) return k;
      }
      return 0;
    };
    const look = () => fetch(follow.dataset.tail, { credentials: "same-origin" })
      .then((r) => r.json())
      .then((a) => {
        const note = document.getElementById("follow-note");
        if (a.error) { note.textContent = a.error; return; }
        note.textContent = "Following: last looked at " + new Date().toLocaleTimeString();
        for (const log of a.logs) {
          const lines = log.text.split("\n").filter((l) => l !== "");
          let sec = document.querySelector('[data-log="' + CSS.escape(log.key) + '"]');
          if (!sec) {
            sec = document.createElement("section");
            sec.className = "card";
            sec.dataset.log = log.key;
            const h = document.createElement("h2");
            const code = document.createElement("code");
            code.textContent = log.head;
            h.append(code);
            const pre = document.createElement("pre");
            pre.className = "log";
            sec.append(h, pre);
            document.getElementById("logs").append(sec);
          }
          const old = shown.get(log.key) || [];
          const fresh = lines.slice(overlap(old, lines));
          if (fresh.length) sec.querySelector("pre").append(fresh.join("\n") + "\n");
          shown.set(log.key, lines);
        }
      })
      .catch(() => {});
    follow.addEventListener("click", () => {
      if (timer) {
        clearInterval(timer);
        timer = 0;
        follow.textContent = "Follow";
        document.getElementById("follow-note").textContent = "";
      } else {
        timer = setInterval(look, 1000);
        look();
        follow.textContent = "Stop following";
      }
      follow.setAttribute("aria-pressed", timer ? "true" : "false");
    });
  }

  const confirm = document.getElementById("terminate-confirm");
  if (confirm) {
    const button = document.getElementById("terminate-submit");
    const check = () => { button.disabled = confirm.value !== confirm.dataset.expect; };
    confirm.addEventListener("input", check);
    check();
  }
})();

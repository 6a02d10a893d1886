/* DACS-HW operator dashboard: reads the reader API and follows its live stream.
 *
 * Data flow: the congestion-point list, the point's history and its homes come
 * from the REST API once; after that an EventSource on /api/v1/stream delivers
 * one `cycle` event per control cycle and a `homes` table every few cycles.
 * Alerts are derived here from what the stream says.
 *
 * Signing in: the aggregator exchanges a token (typed into the form, or in
 * the link `dacs demo` prints) for an HttpOnly, read-only session cookie that
 * the API takes for GET requests; this page never holds the token.
 */
(() => {
  "use strict";

  const POINT_KEY = "dacs-dashboard-point";
  // Relative to /dashboard/, so the page also works behind a path prefix (ingress).
  const API = "../api/v1/";
  const MAX_CYCLES = 2880;
  const RECONNECT_MS = 5000;
  // A cluster moves a point to another instance within a few cycles.
  const OWNER_REFRESH_MS = 15000;
  const EVENT_KINDS = new Set(["dynamic", "manual", "emergency"]);
  const CURTAILING_SOURCES = new Set(["aggregator", "floor", "gas_only"]);
  const TIME_ZONE = "Europe/Amsterdam";
  const KIND_LABELS = {
    rated: "rated capacity",
    fixed: "fixed profile",
    dynamic: "day-ahead event",
    manual: "manual event",
    emergency: "emergency stop",
  };
  const AVAILABILITY_LABELS = {
    available: "available",
    offline: "offline",
    paused: "paused",
    not_participating: "not participating",
    max_duration_reached: "max duration",
  };

  const $ = (id) => document.getElementById(id);
  const clockTime = new Intl.DateTimeFormat("en-GB", {
    timeZone: TIME_ZONE, hour: "2-digit", minute: "2-digit", second: "2-digit",
  });
  const shortTime = new Intl.DateTimeFormat("en-GB", {
    timeZone: TIME_ZONE, hour: "2-digit", minute: "2-digit",
  });
  const dayTime = new Intl.DateTimeFormat("en-GB", {
    timeZone: TIME_ZONE, day: "numeric", month: "short", hour: "2-digit", minute: "2-digit",
  });
  const dayOnly = new Intl.DateTimeFormat("en-GB", { timeZone: TIME_ZONE, day: "numeric", month: "short" });

  const state = {
    points: [],
    pointId: null,
    rated: null,
    cycleS: 30,
    cycles: [],
    events: [],
    homes: [],
    homesTime: null,
    windowHours: 6,
    sort: { key: "id", dir: 1 },
    filter: "",
    source: null,
    stream: "idle",
    streamDownSince: null,
    lastCycleAt: null,
    reconnectTimer: null,
    ownerTimer: null,
    // Bumped when the point changes, so late answers about the old one are ignored.
    generation: 0,
  };
  let chart = null;

  class AuthError extends Error {}
  const REFUSED_REASON = "a reader or operator token is needed.";
  const REFUSED = `That token was refused: ${REFUSED_REASON}`;
  const ENDED = "Your session has ended (it lasts 12 hours, or its token was withdrawn): sign in again.";

  async function api(path) {
    // Same origin: the browser adds the session cookie.
    const response = await fetch(API + path, { cache: "no-store" });
    if (response.status === 401 || response.status === 403) {
      throw new AuthError(`the aggregator refused the session (HTTP ${response.status})`);
    }
    if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
    return response.json();
  }

  const kw = (value, digits = 1) =>
    value === null || value === undefined || Number.isNaN(value) ? "–" : value.toFixed(digits);
  const wattsAsKw = (value, digits = 2) =>
    value === null || value === undefined ? "–" : (value / 1000).toFixed(digits);
  const seconds = (iso) => Date.parse(iso) / 1000;
  const lastCycle = () => (state.cycles.length ? state.cycles[state.cycles.length - 1] : null);
  const loadOf = (cycle) => cycle.measured_load_kw ?? cycle.forecast_load_kw;
  const isCurtailed = (home) => home.curtailed ?? CURTAILING_SOURCES.has(home.limit_source);

  function element(tag, { cls, text, attrs } = {}, children = []) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, value);
    node.append(...children);
    return node;
  }

  // -- sign-in ----------------------------------------------------------------

  function showLogin(message) {
    $("dashboard").hidden = true;
    $("controls").hidden = true;
    $("login").hidden = false;
    $("login-error").hidden = !message;
    $("login-error").textContent = message || "";
    $("token").focus();
  }

  function signOut(message) {
    closeStream();
    fetch(API + "session", { method: "DELETE", cache: "no-store" }).catch(() => {});
    showLogin(message);
  }

  async function signIn(token) {
    let response;
    try {
      response = await fetch(API + "session", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ token }),
        cache: "no-store",
      });
    } catch (err) {
      showLogin(`Cannot reach the aggregator (${err.message}).`);
      return;
    }
    if (response.status === 401) {
      showLogin(REFUSED);
      return;
    }
    if (!response.ok) {
      showLogin(`Could not sign in (HTTP ${response.status}).`);
      return;
    }
    start();
  }

  // A sign-in link whose token the aggregator refused lands here with #signin=refused.
  function linkRefused() {
    if (new URLSearchParams(location.hash.slice(1)).get("signin") !== "refused") return false;
    history.replaceState(null, "", location.pathname);
    return true;
  }

  function showDashboard() {
    $("login").hidden = true;
    $("dashboard").hidden = false;
    $("controls").hidden = false;
  }

  function notice(message) {
    $("notice").hidden = !message;
    $("notice").textContent = message || "";
  }

  // -- loading ----------------------------------------------------------------

  async function start() {
    const refused = linkRefused();
    let points;
    try {
      // Asked first so that a browser not signed in yet gets no 401.
      const session = await (await fetch(API + "session", { cache: "no-store" })).json();
      if (!session.signed_in) {
        showLogin(refused ? `The link's token was refused: ${REFUSED_REASON}` : "");
        return;
      }
      points = await api("congestion-points");
    } catch (err) {
      if (err instanceof AuthError) {
        signOut(ENDED);
        return;
      }
      showDashboard();
      notice(`Cannot reach the aggregator (${err.message}); trying again…`);
      setTimeout(start, RECONNECT_MS);
      return;
    }
    showDashboard();
    notice("");
    state.points = points;
    const select = $("point");
    select.replaceChildren(
      ...points.map((p) => element("option", { text: `${p.name} (${p.id})`, attrs: { value: p.id } })),
    );
    if (!points.length) {
      notice("No congestion points are registered yet.");
      return;
    }
    const wanted =
      new URLSearchParams(location.hash.slice(1)).get("point") || sessionStorage.getItem(POINT_KEY);
    await selectPoint(points.some((p) => p.id === wanted) ? wanted : points[0].id);
  }

  async function selectPoint(pointId) {
    const generation = ++state.generation;
    closeStream();
    state.pointId = pointId;
    sessionStorage.setItem(POINT_KEY, pointId);
    $("point").value = pointId;
    history.replaceState(null, "", `#point=${encodeURIComponent(pointId)}`);
    const point = state.points.find((p) => p.id === pointId);
    state.rated = point ? point.rated_capacity_kw : null;
    state.cycles = [];
    state.events = point ? point.events : [];
    state.homes = [];
    state.homesTime = null;
    $("count-total").textContent = point ? point.homes : 0;
    if (point) renderCounts(point.counts);
    renderOwner(point ? point.owner : null);
    clearInterval(state.ownerTimer);
    state.ownerTimer = setInterval(() => refreshOwner(generation), OWNER_REFRESH_MS);
    try {
      await loadPoint(generation);
    } catch (err) {
      if (err instanceof AuthError) {
        signOut(ENDED);
        return;
      }
      notice(`Could not load ${pointId} (${err.message}).`);
    }
    if (generation === state.generation) openStream();
  }

  async function loadPoint(generation) {
    const id = encodeURIComponent(state.pointId);
    const [past, homes] = await Promise.all([
      api(`congestion-points/${id}/history`),
      api(`homes?congestion_point=${id}`),
    ]);
    if (generation !== state.generation) return;
    state.cycles = past.cycles;
    state.events = past.events;
    state.rated = past.rated_capacity_kw;
    state.cycleS = past.cycle_s;
    state.homes = homes;
    state.homesTime = past.now;
    // Counts from now: a loop that stays silent from here on raises an alert.
    state.lastCycleAt = past.cycles.length ? Date.now() : null;
    renderAll();
  }

  async function refreshOwner(generation) {
    let point;
    try {
      point = await api(`congestion-points/${encodeURIComponent(state.pointId)}`);
    } catch (err) {
      return; // the live feed's own alerts say the aggregator is unreachable
    }
    if (generation === state.generation) renderOwner(point.owner);
  }

  // -- live stream ------------------------------------------------------------

  function openStream() {
    // Same origin: EventSource sends the session cookie (it cannot send a header).
    const url = `${API}stream?congestion_point=${encodeURIComponent(state.pointId)}`;
    const source = new EventSource(url);
    const generation = state.generation;
    state.source = source;
    source.addEventListener("open", () => {
      const wasDown = state.stream !== "live" && state.stream !== "connecting";
      setStream("live");
      // Cycles missed while disconnected come back from the history.
      if (wasDown) loadPoint(generation).catch(() => {});
    });
    source.addEventListener("cycle", (e) => onCycle(JSON.parse(e.data)));
    source.addEventListener("homes", (e) => onHomes(JSON.parse(e.data)));
    source.addEventListener("error", () => {
      if (source !== state.source) return;
      if (source.readyState === EventSource.CLOSED) {
        // A refused token or a server error: EventSource gives up, so we retry.
        setStream("offline");
        closeStream();
        state.reconnectTimer = setTimeout(start, RECONNECT_MS);
      } else {
        setStream("reconnecting");
      }
    });
    setStream("connecting");
  }

  function closeStream() {
    clearTimeout(state.reconnectTimer);
    if (state.source) state.source.close();
    state.source = null;
  }

  function setStream(status) {
    if (status === "live") state.streamDownSince = null;
    else if (status !== "connecting" && state.streamDownSince === null) state.streamDownSince = new Date();
    state.stream = status;
    const pill = $("connection");
    const labels = { live: "Live", connecting: "Connecting…", reconnecting: "Reconnecting…", offline: "Offline" };
    pill.textContent = labels[status] || status;
    pill.className = `pill pill-${status === "connecting" ? "reconnecting" : status}`;
    renderAlerts();
  }

  function onCycle(cycle) {
    if (cycle.congestion_point_id !== state.pointId) return;
    const last = lastCycle();
    if (last && seconds(cycle.time) <= seconds(last.time)) return; // already in the history
    state.cycles.push(cycle);
    if (state.cycles.length > MAX_CYCLES) state.cycles.splice(0, state.cycles.length - MAX_CYCLES);
    state.events = cycle.events;
    state.rated = cycle.rated_capacity_kw;
    state.lastCycleAt = Date.now();
    renderNow();
    renderChart();
    renderAlerts();
  }

  function onHomes(snapshot) {
    if (snapshot.congestion_point_id !== state.pointId) return;
    state.homes = snapshot.homes;
    state.homesTime = snapshot.time;
    renderHomes();
    renderAlerts();
  }

  // -- rendering --------------------------------------------------------------

  function renderAll() {
    renderNow();
    renderChart();
    renderHomes();
    renderAlerts();
  }

  function renderOwner(owner) {
    // null: not clustered, this aggregator controls every point.
    const box = $("owner");
    box.hidden = !owner;
    if (!owner) return;
    const holder = owner.live && owner.instance;
    const name = holder ? `${owner.instance} (epoch ${owner.epoch})` : "none: being taken over";
    $("owner-instance").textContent = owner.this_instance ? `${name} · this instance` : name;
    box.dataset.instance = holder ? owner.instance : "";
    box.classList.toggle("owner-none", !holder);
  }

  function renderCounts(counts) {
    for (const key of ["online", "curtailed", "paused", "offline", "opted_out"]) {
      $(`count-${key}`).textContent = counts ? counts[key] : "–";
    }
  }

  function eventEnding(cycle) {
    const event = state.events.find((e) => e.id === cycle.event_id);
    return event ? ` · until ${shortTime.format(Date.parse(event.end))}` : "";
  }

  function renderNow() {
    const cycle = lastCycle();
    const lastTime = $("last-cycle");
    if (!cycle) {
      lastTime.textContent = "–";
      return;
    }
    lastTime.textContent = clockTime.format(Date.parse(cycle.time));
    lastTime.dateTime = cycle.time;
    const load = loadOf(cycle);
    $("kpi-load").textContent = kw(load);
    $("kpi-load-note").textContent =
      cycle.measured_load_kw !== null ? "measured" : "forecast (no recent measurement)";
    $("kpi-cap").textContent = kw(cycle.cap_kw);
    $("kpi-cap-note").textContent =
      (KIND_LABELS[cycle.cap_kind] || cycle.cap_kind) +
      (cycle.event_id ? ` ${cycle.event_id}` : "") + eventEnding(cycle);
    const headroom = cycle.cap_kw - load;
    $("kpi-headroom").textContent = kw(headroom);
    $("kpi-headroom-card").classList.toggle("over", headroom < 0);
    $("kpi-hp").textContent = kw(cycle.heat_pump_load_kw);
    const saved = (cycle.baseline_kw ?? 0) - cycle.heat_pump_load_kw;
    $("kpi-hp-note").textContent =
      `baseline ${kw(cycle.baseline_kw)} kW · ${saved > 0.05 ? `−${kw(saved)} kW` : "no reduction"}`;
    $("kpi-shortfall").textContent = kw(cycle.shortfall_kw);
    $("kpi-shortfall-card").classList.toggle("short", cycle.shortfall_kw > 0);
    // The event plan sees a shortfall before its quarter hour begins.
    const plan = cycle.plan ?? null;
    $("kpi-shortfall-note").textContent = !plan
      ? "flexibility missing to meet the cap"
      : plan.short_from
        ? `plan: ${kw(plan.shortfall_kw)} kW short from ${shortTime.format(Date.parse(plan.short_from))}`
        : `plan: ${plan.isps} quarter hours covered, ${plan.kept_for_later} homes kept for later`;
    // The grid operator settles each 15-minute mean against the cap, not the minute.
    const ispMean = cycle.isp_mean_kw ?? null;
    $("kpi-isp").textContent = ispMean === null ? "–" : kw(ispMean);
    $("kpi-isp-card").classList.toggle("over", ispMean !== null && ispMean > cycle.cap_kw);
    const over = cycle.isps_over_cap ?? 0;
    $("kpi-isp-note").textContent = over
      ? `${over} quarter hour${over === 1 ? "" : "s"} over the cap today, worst +${kw(cycle.worst_isp_excess_kw)} kW`
      : "no quarter hour over the cap today";
    $("count-total").textContent = cycle.counts.online + cycle.counts.offline;
    renderCounts(cycle.counts);
  }

  // The cap at moment t from the events in force (the fixed profile is not known here).
  function plannedCap(t) {
    let cap = state.rated;
    for (const event of state.events) {
      for (const interval of event.intervals) {
        if (seconds(interval.start) <= t && t < seconds(interval.end)) {
          cap = Math.min(cap, event.kind === "emergency" ? 0 : interval.cap_kw);
        }
      }
    }
    return cap;
  }

  function chartData() {
    const x = [], load = [], cap = [], planned = [], rated = [], hp = [], baseline = [];
    for (const cycle of state.cycles) {
      x.push(seconds(cycle.time));
      load.push(loadOf(cycle));
      cap.push(cycle.cap_kw);
      planned.push(null);
      rated.push(cycle.rated_capacity_kw);
      hp.push(cycle.heat_pump_load_kw);
      baseline.push(cycle.baseline_kw);
    }
    const last = x.length ? x[x.length - 1] : Date.now() / 1000;
    if (planned.length) planned[planned.length - 1] = cap[cap.length - 1];
    // What the events in force ask of the coming hours, drawn as a dashed step line.
    const ahead = new Set();
    for (const event of state.events) {
      for (const interval of event.intervals) {
        for (const t of [seconds(interval.start), seconds(interval.end)]) if (t > last) ahead.add(t);
      }
    }
    for (const t of [...ahead].sort((a, b) => a - b)) {
      x.push(t);
      planned.push(plannedCap(t));
      rated.push(state.rated);
      for (const series of [load, cap, hp, baseline]) series.push(null);
    }
    return [x, load, cap, planned, rated, hp, baseline];
  }

  // Event periods: past ones from the cycles (ended events leave the list), the rest from the events.
  function eventPeriods() {
    const periods = new Map();
    const cycles = state.cycles;
    cycles.forEach((cycle, i) => {
      if (!EVENT_KINDS.has(cycle.cap_kind) || !cycle.event_id) return;
      const t = seconds(cycle.time);
      const next = i + 1 < cycles.length ? seconds(cycles[i + 1].time) : t + state.cycleS;
      const known = periods.get(cycle.event_id);
      if (known) {
        known.start = Math.min(known.start, t);
        known.end = Math.max(known.end, next);
      } else {
        periods.set(cycle.event_id, { id: cycle.event_id, kind: cycle.cap_kind, start: t, end: next });
      }
    });
    for (const event of state.events) {
      const known = periods.get(event.id);
      const start = seconds(event.start), end = seconds(event.end);
      if (known) {
        known.start = Math.min(known.start, start);
        known.end = Math.max(known.end, end);
      } else {
        periods.set(event.id, { id: event.id, kind: event.kind, start, end });
      }
    }
    return [...periods.values()];
  }

  function xRange() {
    const cycle = lastCycle();
    const end = cycle ? seconds(cycle.time) : Date.now() / 1000;
    const span = state.windowHours * 3600;
    let future = span * 0.02;
    for (const period of eventPeriods()) {
      if (period.end > end) future = Math.max(future, Math.min(period.end - end, span * 0.25));
    }
    return [end - span, end + future];
  }

  function shadeEvents(u) {
    const ctx = u.ctx;
    const { left, top, width, height } = u.bbox;
    const ratio = window.devicePixelRatio || 1;
    ctx.save();
    ctx.beginPath();
    ctx.rect(left, top, width, height);
    ctx.clip();
    // uPlot leaves its axis text settings on the context.
    ctx.textAlign = "left";
    ctx.textBaseline = "top";
    for (const period of eventPeriods()) {
      const x0 = Math.max(left, u.valToPos(period.start, "x", true));
      const x1 = Math.min(left + width, u.valToPos(period.end, "x", true));
      if (x1 <= x0) continue;
      const emergency = period.kind === "emergency";
      ctx.fillStyle = emergency ? "rgba(192, 57, 43, 0.16)" : "rgba(214, 137, 16, 0.13)";
      ctx.fillRect(x0, top, x1 - x0, height);
      ctx.fillStyle = emergency ? "rgba(146, 43, 33, 0.9)" : "rgba(154, 98, 0, 0.9)";
      ctx.font = `${11 * ratio}px system-ui, sans-serif`;
      ctx.fillText(`${KIND_LABELS[period.kind] || period.kind}: ${period.id}`, x0 + 5 * ratio, top + 4 * ratio);
    }
    ctx.restore();
  }

  function markNow(u) {
    const cycle = lastCycle();
    if (!cycle) return;
    const x = u.valToPos(seconds(cycle.time), "x", true);
    const ctx = u.ctx;
    ctx.save();
    ctx.strokeStyle = "#5d6d7e";
    ctx.lineWidth = 1.5 * (window.devicePixelRatio || 1);
    ctx.setLineDash([4, 4]);
    ctx.beginPath();
    ctx.moveTo(x, u.bbox.top);
    ctx.lineTo(x, u.bbox.top + u.bbox.height);
    ctx.stroke();
    ctx.restore();
  }

  // Hour:minute ticks in Amsterdam time, with the date under the first tick of each day.
  function timeTicks(u, splits) {
    return splits.map((v, i) => {
      const day = dayOnly.format(v * 1000);
      const newDay = i === 0 || day !== dayOnly.format(splits[i - 1] * 1000);
      return newDay ? `${shortTime.format(v * 1000)}\n${day}` : shortTime.format(v * 1000);
    });
  }

  function chartOptions(width) {
    const stepped = uPlot.paths.stepped({ align: 1 });
    // Without a cursor on the chart the legend shows the latest cycle instead of blanks.
    const latest = (u, si) => (state.cycles.length ? u.data[si][state.cycles.length - 1] : null);
    const kwValue = (u, v, si, idx) => {
      const value = idx == null ? latest(u, si) : v;
      return value === null || value === undefined ? "–" : `${value.toFixed(1)} kW`;
    };
    const timeValue = (u, v, si, idx) => {
      const value = idx == null ? latest(u, si) : v;
      return value === null || value === undefined ? "–" : dayTime.format(value * 1000);
    };
    return {
      width,
      height: 340,
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), TIME_ZONE),
      cursor: { drag: { x: false, y: false } },
      legend: { live: true },
      scales: {
        x: { time: true, range: () => xRange() },
        y: { range: (u, min, max) => [0, Math.max(10, Math.ceil(((max ?? 0) * 1.1) / 10) * 10)] },
      },
      axes: [
        { stroke: "#66758a", grid: { stroke: "#eef1f5" }, ticks: { stroke: "#dfe4ec" }, values: timeTicks },
        {
          label: "kW", stroke: "#66758a", size: 56,
          grid: { stroke: "#eef1f5" }, ticks: { stroke: "#dfe4ec" },
        },
      ],
      series: [
        { label: "Time", value: timeValue },
        { label: "Transformer load", stroke: "#1f4e79", width: 2.2, fill: "rgba(31, 78, 121, 0.07)", value: kwValue },
        { label: "Cap", stroke: "#c0392b", width: 2, paths: stepped, value: kwValue },
        { label: "Planned cap", stroke: "#c0392b", width: 1.6, dash: [7, 5], paths: stepped, value: kwValue },
        { label: "Rated capacity", stroke: "#7f8c8d", width: 1.2, dash: [2, 4], paths: stepped, value: kwValue },
        { label: "Heat pumps", stroke: "#e67e22", width: 1.8, fill: "rgba(230, 126, 34, 0.12)", value: kwValue },
        { label: "Heat pump baseline", stroke: "#a04000", width: 1.3, dash: [5, 4], value: kwValue },
      ],
      hooks: { drawClear: [shadeEvents], draw: [markNow] },
    };
  }

  function renderChart() {
    const container = $("chart");
    if (!chart) {
      if (!window.uPlot) {
        container.textContent = "The chart library did not load.";
        return;
      }
      chart = new uPlot(chartOptions(Math.max(320, container.clientWidth)), chartData(), container);
      new ResizeObserver(() => {
        const width = Math.max(320, container.clientWidth);
        if (chart && Math.abs(chart.width - width) > 1) chart.setSize({ width, height: 340 });
      }).observe(container);
      return;
    }
    chart.setData(chartData());
  }

  function sortedHomes() {
    const { key, dir } = state.sort;
    const needle = state.filter.trim().toLowerCase();
    const rows = state.homes.filter((home) => !needle || [
      home.id, home.availability, AVAILABILITY_LABELS[home.availability], home.limit_source,
      home.comfort_override ? "comfort override" : "",
    ].some((text) => text && String(text).toLowerCase().includes(needle)));
    return rows.sort((a, b) => {
      const va = a[key], vb = b[key];
      if (va === vb) return a.id < b.id ? -1 : 1;
      if (va === null || va === undefined) return 1;
      if (vb === null || vb === undefined) return -1;
      return (va < vb ? -1 : 1) * dir;
    });
  }

  function homeRow(home) {
    const availability = element("span", {
      cls: `tag tag-${home.availability}`,
      text: AVAILABILITY_LABELS[home.availability] || home.availability,
    });
    const source = home.limit_source && home.limit_source !== "none"
      ? element("span", { cls: `tag tag-source-${home.limit_source}`, text: home.limit_source.replace("_", " ") })
      : "–";
    const override = home.comfort_override ? element("span", { cls: "override", text: "yes" }) : "–";
    const cells = [
      element("td", { text: home.id }),
      element("td", {}, [availability]),
      element("td", { cls: "num", text: wattsAsKw(home.electric_power_w) }),
      element("td", { cls: "num", text: wattsAsKw(home.limit_w) }),
      element("td", {}, [source]),
      element("td", { cls: "num", text: kw(home.indoor_temp_c) }),
      element("td", {}, [override]),
      element("td", { cls: "num", text: wattsAsKw(home.baseline_w) }),
    ];
    const row = element("tr", { attrs: { "data-home": home.id } }, cells);
    row.classList.toggle("offline", home.availability === "offline");
    row.classList.toggle("curtailed", isCurtailed(home));
    return row;
  }

  function renderHomes() {
    const body = $("homes").tBodies[0];
    const rows = sortedHomes();
    body.replaceChildren(
      ...(rows.length
        ? rows.map(homeRow)
        : [element("tr", {}, [element("td", { cls: "empty", text: "No homes to show.", attrs: { colspan: "8" } })])]),
    );
    $("homes-time").textContent = state.homesTime ? clockTime.format(Date.parse(state.homesTime)) : "–";
    for (const th of $("homes").tHead.rows[0].cells) {
      th.classList.toggle("sorted-asc", th.dataset.key === state.sort.key && state.sort.dir > 0);
      th.classList.toggle("sorted-desc", th.dataset.key === state.sort.key && state.sort.dir < 0);
    }
  }

  function listIds(homes) {
    const ids = homes.map((h) => h.id);
    return ids.length > 8 ? `${ids.slice(0, 8).join(", ")} and ${ids.length - 8} more` : ids.join(", ");
  }

  function deriveAlerts() {
    const alerts = [];
    if (state.stream === "offline" || state.stream === "reconnecting") {
      const since = state.streamDownSince ? ` since ${clockTime.format(state.streamDownSince)}` : "";
      alerts.push({ level: "warning", title: "Live feed interrupted", text: `No live updates${since}; reconnecting.` });
    }
    const cycle = lastCycle();
    if (!cycle) return alerts;
    if (state.lastCycleAt && Date.now() - state.lastCycleAt > 3 * state.cycleS * 1000) {
      alerts.push({
        level: "warning",
        title: "Control loop silent",
        text: `No control cycle for ${Math.round((Date.now() - state.lastCycleAt) / 1000)} s.`,
      });
    }
    if (cycle.shortfall_kw > 0) {
      alerts.push({
        level: "critical",
        title: `Shortfall ${kw(cycle.shortfall_kw)} kW`,
        text: `Not enough flexibility to keep the load under the ${kw(cycle.cap_kw)} kW cap.`,
      });
    }
    if (cycle.measured_load_kw !== null && cycle.measured_load_kw > cycle.cap_kw + 0.05) {
      alerts.push({
        level: "critical",
        title: "Load above cap",
        text: `Measured ${kw(cycle.measured_load_kw)} kW against a cap of ${kw(cycle.cap_kw)} kW.`,
      });
    }
    const t = seconds(cycle.time);
    const active = state.events.find((e) => seconds(e.start) <= t && t < seconds(e.end));
    if (active) {
      const offline = state.homes.filter((h) => h.availability === "offline");
      const count = offline.length || cycle.counts.offline;
      if (count > 0) {
        alerts.push({
          level: "warning",
          title: `${count} home${count === 1 ? "" : "s"} offline during ${active.id}`,
          text: offline.length ? listIds(offline) : "See the home table.",
        });
      }
    }
    const overrides = state.homes.filter((h) => h.comfort_override);
    if (overrides.length) {
      alerts.push({
        level: active ? "warning" : "info",
        title: `Comfort override at ${overrides.length} home${overrides.length === 1 ? "" : "s"}`,
        text: `${listIds(overrides)}: residents took back control; not curtailed.`,
      });
    }
    return alerts;
  }

  function renderAlerts() {
    const alerts = deriveAlerts();
    const list = $("alerts");
    list.replaceChildren(
      ...(alerts.length
        ? alerts.map((a) => element("li", { cls: `alert alert-${a.level}` }, [
          element("strong", { text: a.title }), a.text,
        ]))
        : [element("li", { cls: "alert alert-ok" }, [
          element("strong", { text: "All clear" }), "Load under the cap; no homes need attention.",
        ])]),
    );
    const badge = $("alert-count");
    badge.textContent = alerts.length;
    badge.classList.toggle("hot", alerts.some((a) => a.level === "critical"));
  }

  // -- wiring -----------------------------------------------------------------

  $("login-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const token = $("token").value.trim();
    if (!token) return;
    $("token").value = "";
    signIn(token);
  });
  $("sign-out").addEventListener("click", () => signOut());
  $("point").addEventListener("change", (e) => selectPoint(e.target.value));
  $("home-filter").addEventListener("input", (e) => {
    state.filter = e.target.value;
    renderHomes();
  });
  for (const th of $("homes").tHead.rows[0].cells) {
    th.addEventListener("click", () => {
      const key = th.dataset.key;
      state.sort = { key, dir: state.sort.key === key ? -state.sort.dir : 1 };
      renderHomes();
    });
  }
  for (const button of document.querySelectorAll(".window button")) {
    button.addEventListener("click", () => {
      state.windowHours = Number(button.dataset.hours);
      for (const other of document.querySelectorAll(".window button")) other.classList.toggle("active", other === button);
      renderChart();
    });
  }
  // Keeps the "control loop silent" alert honest when nothing arrives.
  setInterval(() => {
    if (state.pointId) renderAlerts();
  }, 5000);

  start();
})();

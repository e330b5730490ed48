// The camctl web UI: every camera `camctl serve` knows, with the open camera's live view, shutter,
// settings, imports and event log. Plain JS, no framework, no build step, nothing fetched from
// anywhere but the serving camctl (it must work offline).
//
// Camera-supplied text (names, models, settings, file names, event details, errors) only ever goes
// into the page through textContent / attribute values, never as HTML.
//
// Elements the tests (and users' scripts) rely on; NAME is the camera's name, KEY a setting's key
// (select them with CSS.escape when they hold unusual characters):
//   #server-status            data-status = loading | ok | unreachable
//   #camera-list > li[data-camera=NAME]   one per camera, data-state = connecting | connected |
//                              reconnecting | stopped; its link #open-NAME (href "#/NAME") opens it
//   #view[data-camera-view=NAME]          the open camera
//   #state-NAME               its state badge (data-state as above), #error-NAME the last error
//   #info-NAME                manufacturer, model, serial, firmware, battery (dl)
//   #live-NAME                <video> (H.264/H.265 over MSE) or <img> (MJPEG); absent without live
//                              view; data-live = starting | playing | stopped | unsupported | error
//   #live-status-NAME         what the live view is doing, in words
//   #live-toggle-NAME         pauses / resumes the live view
//   #shutter-NAME             takes a picture (POST capture); #capture-result-NAME lists the new
//                              files (li[data-path]), data-status = busy | done | error
//   #settings-NAME            the settings: div.setting[data-setting=KEY], each with one control
//                              (#setting-NAME-KEY: select | input[type=number] | input[type=text],
//                              disabled when read-only) and .setting-status (data-status = saving |
//                              saved | refused | error; a refusal lists the allowed values)
//   #settings-reload-NAME     reads the settings again from the camera
//   #imports-NAME             recent imports, newest first: li[data-import-id=ID][data-camera-path],
//                              with img.thumb for pictures, .file-name (the local name), and for
//                              other files .file-size
//   #events-NAME              the event log, newest first (li, at most EVENT_LOG_MAX), each with
//                              data-kind = camera | state | import
"use strict";

const EVENT_LOG_MAX = 100;
const IMPORTS_MAX = 50;
// Camera states are polled at this interval (the open camera's also arrive over its event stream).
const LIST_POLL_MS = 5000;
// Live view: keep this much video behind the playhead, and jump when it falls this far behind.
const LIVE_BACK_BUFFER_S = 10;
const LIVE_MAX_LAG_S = 3;
// Reconnect delays for a broken live stream.
const LIVE_RETRY_MIN_MS = 1000;
const LIVE_RETRY_MAX_MS = 30000;
// Chunks waiting for the SourceBuffer beyond this mean the page cannot keep up: start afresh.
const LIVE_QUEUE_MAX = 400;
const PICTURE_EXTENSIONS = ["jpg", "jpeg", "png", "gif", "webp", "avif", "bmp"];

// ---------- small helpers ----------

/** An element with attributes (values set as attributes or properties, never parsed as HTML) and
 * children (strings become text nodes). */
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k in el && typeof v !== "string") el[k] = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function byId(id) {
  return document.getElementById(id);
}

function api(name, ...rest) {
  return ["api/cameras", encodeURIComponent(name), ...rest].join("/");
}

/** A camera path as URL segments (each escaped; the camera may name files anyhow). */
function mediaUrl(name, path) {
  const segments = String(path).split("/").filter((s) => s !== "").map(encodeURIComponent);
  return api(name, "media", ...segments);
}

function formatSize(bytes) {
  if (typeof bytes !== "number" || !isFinite(bytes)) return "";
  const units = ["B", "kB", "MB", "GB", "TB"];
  let n = bytes;
  let i = 0;
  while (n >= 1000 && i < units.length - 1) {
    n /= 1000;
    i++;
  }
  return (i === 0 ? String(n) : n.toFixed(n < 10 ? 1 : 0)) + " " + units[i];
}

function timeNow() {
  return new Date().toLocaleTimeString();
}

function isPicture(fileName) {
  const dot = String(fileName).lastIndexOf(".");
  return dot >= 0 && PICTURE_EXTENSIONS.includes(String(fileName).slice(dot + 1).toLowerCase());
}

/** An API error carrying the HTTP status and the JSON body (`{"error": ...}`, maybe more). */
class ApiError extends Error {
  constructor(status, body) {
    super((body && typeof body.error === "string" && body.error) || "HTTP " + status);
    this.status = status;
    this.body = body;
  }
}

async function fetchJson(url, options) {
  const res = await fetch(url, Object.assign({ headers: { Accept: "application/json" } }, options));
  let body = null;
  const text = await res.text();
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = { error: text.slice(0, 200) };
  }
  if (!res.ok) throw new ApiError(res.status, body);
  return body;
}

function sendJson(method, url, value) {
  return fetchJson(url, {
    method,
    headers: { Accept: "application/json", "Content-Type": "application/json" },
    body: value === undefined ? undefined : JSON.stringify(value),
  });
}

// ---------- the camera list ----------

const cameras = new Map(); // name -> last CameraSummary
let openView = null; // the CameraView shown, if any

function setServerStatus(status, text) {
  const el = byId("server-status");
  el.dataset.status = status;
  el.textContent = text;
}

async function refreshList() {
  let list;
  try {
    list = await fetchJson("api/cameras");
  } catch (e) {
    setServerStatus("unreachable", "camctl unreachable: " + e.message);
    return;
  }
  if (!Array.isArray(list)) return;
  setServerStatus("ok", list.length + (list.length === 1 ? " camera" : " cameras"));
  const names = new Set(list.map((c) => c.name));
  for (const name of [...cameras.keys()]) {
    if (!names.has(name)) {
      cameras.delete(name);
      listItem(name)?.remove();
    }
  }
  for (const summary of list) updateSummary(summary);
  byId("no-cameras").hidden = list.length > 0;
  route();
}

function listItem(name) {
  return document.querySelector(`#camera-list > li[data-camera="${CSS.escape(name)}"]`);
}

/** Records a camera's summary and shows it in the list (and in the open view, if it is that one). */
function updateSummary(summary) {
  if (!summary || typeof summary.name !== "string") return;
  const previous = cameras.get(summary.name);
  cameras.set(summary.name, summary);
  let li = listItem(summary.name);
  if (!li) {
    li = h(
      "li",
      { dataset: { camera: summary.name } },
      h(
        "a",
        { id: "open-" + summary.name, href: "#/" + encodeURIComponent(summary.name) },
        h("span", { class: "dot", "aria-hidden": "true" }),
        h("span", { class: "cam-name" }, summary.name),
        h("span", { class: "cam-meta" }),
      ),
    );
    byId("camera-list").append(li);
  }
  li.dataset.state = summary.state;
  li.querySelector(".cam-meta").textContent =
    summary.protocol + " · " + summary.state + (summary.live ? " · live" : "");
  li.title = summary.error ? summary.error : "";
  if (openView && openView.name === summary.name) openView.onSummary(summary, previous);
}

/** Shows the camera the URL's hash names (`#/NAME`); without one, the first on a wide screen. */
function route() {
  let name = null;
  if (location.hash.startsWith("#/")) {
    try {
      name = decodeURIComponent(location.hash.slice(2));
    } catch {
      name = null;
    }
  }
  if (name === null && cameras.size > 0 && (cameras.size === 1 || matchMedia("(min-width: 900px)").matches)) {
    name = cameras.keys().next().value;
  }
  if (name !== null && !cameras.has(name)) name = null;
  for (const li of document.querySelectorAll("#camera-list > li")) {
    li.classList.toggle("open", li.dataset.camera === name);
  }
  document.body.classList.toggle("camera-open", name !== null);
  if (openView && openView.name === name) return;
  if (openView) openView.destroy();
  openView = null;
  const view = byId("view");
  view.replaceChildren();
  delete view.dataset.cameraView;
  if (name === null) {
    view.append(h("p", { class: "hint", id: "pick-hint" }, "Pick a camera."));
    return;
  }
  openView = new CameraView(cameras.get(name));
  openView.mount(view);
}

// ---------- one camera ----------

class CameraView {
  constructor(summary) {
    this.name = summary.name;
    this.summary = summary;
    this.events = null; // EventSource
    this.live = null; // LivePlayer | MjpegView
    this.liveKind = undefined; // the summary's "live" the element was made for
    this.livePaused = false;
    this.importIds = new Set();
    this.infoLoaded = false;
    this.settingsLoaded = false;
  }

  mount(container) {
    const n = this.name;
    const s = this.summary;
    container.dataset.cameraView = n;
    const parts = [
      h(
        "div",
        { class: "cam-head" },
        h("a", { href: "#", class: "back", "aria-label": "all cameras" }, "‹"),
        h("h2", {}, n),
        h("span", { class: "protocol" }, s.protocol),
        h("span", { id: "state-" + n, class: "state" }),
      ),
      h("p", { id: "error-" + n, class: "error", hidden: true }),
      s.rtsp ? h("p", { class: "rtsp" }, "RTSP: ", h("code", {}, s.rtsp)) : null,
      h("div", { id: "live-box-" + n }),
      s.capabilities && s.capabilities.capture
        ? h(
            "section",
            { class: "capture" },
            h("button", { id: "shutter-" + n, class: "shutter", type: "button", onclick: () => this.capture() }, "Take picture"),
            h("ul", { id: "capture-result-" + n, class: "capture-result" }),
          )
        : null,
      h("section", { class: "panel" }, h("h3", {}, "Camera"), h("dl", { id: "info-" + n, class: "info" }, h("dd", { class: "hint" }, "read when the camera is connected"))),
      s.capabilities && s.capabilities.settings
        ? h(
            "section",
            { class: "panel" },
            h(
              "h3",
              {},
              "Settings ",
              h("button", { id: "settings-reload-" + n, type: "button", class: "small", onclick: () => this.loadSettings() }, "Reload"),
            ),
            h("div", { id: "settings-" + n, class: "settings" }, h("p", { class: "hint" }, "…")),
          )
        : null,
      h(
        "section",
        { class: "panel" },
        h("h3", {}, "Imports", s.import && s.import.folder ? h("small", {}, " into ", s.import.folder) : null),
        h("ul", { id: "imports-" + n, class: "imports" }),
        s.import ? null : h("p", { class: "hint" }, "Auto-import is off for this camera."),
      ),
      h("section", { class: "panel" }, h("h3", {}, "Events"), h("ol", { id: "events-" + n, class: "events" })),
    ];
    container.append(...parts.filter((p) => p));
    this.showState(s);
    this.openEvents();
    this.loadImports();
    this.onSummary(s, null);
    this.onVisibility = () => this.applyActivity();
    document.addEventListener("visibilitychange", this.onVisibility);
  }

  /** The live view's element for the camera's live kind (which the camera may only tell once
   * connected: a PTP/IP body without live view has none). */
  renderLive() {
    const n = this.name;
    const kind = this.summary.live || null;
    this.liveKind = kind;
    this.stopLive();
    const box = byId("live-box-" + n);
    if (!box) return;
    if (!kind) {
      box.replaceChildren(h("p", { class: "hint" }, "This camera has no live view."));
      return;
    }
    const media =
      kind === "jpeg"
        ? h("img", { id: "live-" + n, class: "live-media", alt: "live view of " + n, dataset: { live: "stopped" } })
        : h("video", {
            id: "live-" + n,
            class: "live-media",
            muted: true,
            autoplay: true,
            playsInline: true,
            disablePictureInPicture: true,
            dataset: { live: "stopped" },
          });
    box.replaceChildren(
      h(
        "section",
        { class: "live" },
        media,
        h(
          "div",
          { class: "live-bar" },
          h("span", { id: "live-status-" + n, class: "live-status" }, "live view stopped"),
          h("button", { id: "live-toggle-" + n, type: "button", onclick: () => this.toggleLive() }, "Pause"),
        ),
      ),
    );
  }

  destroy() {
    document.removeEventListener("visibilitychange", this.onVisibility);
    this.stopLive();
    if (this.events) this.events.close();
    this.events = null;
  }

  connected() {
    return this.summary.state === "connected";
  }

  /** A new summary (poll or SSE): state badge, and what only makes sense while connected. */
  onSummary(summary, previous) {
    if (this.summary.state === "connected" && summary.state !== "connected") {
      // What a camera reports is read again once it is back (it may have been changed meanwhile).
      this.infoLoaded = false;
      this.settingsLoaded = false;
    }
    this.summary = summary;
    if ((summary.live || null) !== this.liveKind) this.renderLive();
    this.showState(summary);
    if (this.connected()) {
      if (!this.infoLoaded) this.loadInfo();
      if (!this.settingsLoaded) this.loadSettings();
    }
    if (previous && previous.state !== summary.state) {
      this.logEvent("state", summary.state + (summary.error ? ": " + summary.error : ""));
    }
    this.applyActivity();
  }

  showState(summary) {
    const badge = byId("state-" + this.name);
    if (badge) {
      badge.dataset.state = summary.state;
      badge.textContent = summary.state;
    }
    const err = byId("error-" + this.name);
    if (err) {
      err.hidden = !summary.error;
      err.textContent = summary.error || "";
    }
    const shutter = byId("shutter-" + this.name);
    if (shutter && shutter.dataset.busy !== "1") shutter.disabled = !this.connected();
  }

  /** Live view and event stream run only while the page is visible (a phone in a pocket streams
   * nothing) and, for live view, while the camera is connected and the user has not paused it. */
  applyActivity() {
    const visible = document.visibilityState !== "hidden";
    if (visible && !this.events) this.openEvents();
    if (!visible && this.events) {
      this.events.close();
      this.events = null;
    }
    const wantLive = visible && this.connected() && !this.livePaused && !!this.summary.live;
    if (wantLive && !this.live) this.startLive();
    if (!wantLive && this.live) this.stopLive();
    const toggle = byId("live-toggle-" + this.name);
    if (toggle) toggle.textContent = this.livePaused ? "Resume" : "Pause";
  }

  toggleLive() {
    this.livePaused = !this.livePaused;
    this.applyActivity();
  }

  startLive() {
    const el = byId("live-" + this.name);
    const status = byId("live-status-" + this.name);
    if (!el) return;
    this.live = this.summary.live === "jpeg" ? new MjpegView(this.name, el, status) : new LivePlayer(this.name, el, status);
    this.live.start();
  }

  stopLive() {
    if (this.live) this.live.stop();
    this.live = null;
  }

  // --- events ---

  openEvents() {
    const source = new EventSource(api(this.name, "events"));
    this.events = source;
    const parse = (ev) => {
      try {
        return JSON.parse(ev.data);
      } catch {
        return null;
      }
    };
    source.addEventListener("state", (ev) => {
      const summary = parse(ev);
      if (summary && summary.name === this.name) updateSummary(summary);
    });
    source.addEventListener("camera", (ev) => {
      const e = parse(ev);
      if (!e) return;
      const media = Array.isArray(e.media) ? e.media.map((m) => m.path).join(", ") : "";
      this.logEvent("camera", [e.name, e.detail, media].filter((x) => x).join(" · "));
      // A setting changed on the body (a dial turned): show its new value.
      const changed = e.name === "PropertyChanged" && /^(\S+) = /.exec(String(e.detail || ""));
      if (changed) this.refreshSetting(changed[1]);
    });
    source.addEventListener("import", (ev) => {
      const item = parse(ev);
      if (!item) return;
      this.addImport(item, true);
      this.logEvent("import", "imported " + (item.name || item.camera_path));
    });
    // The stream was down (server restart, network): what happened meanwhile is read afresh.
    source.addEventListener("open", () => {
      if (this.opened) this.loadImports();
      this.opened = true;
    });
  }

  logEvent(kind, text) {
    const list = byId("events-" + this.name);
    if (!list) return;
    list.prepend(h("li", { dataset: { kind } }, h("time", {}, timeNow()), h("span", { class: "kind" }, kind), h("span", { class: "detail" }, text)));
    while (list.children.length > EVENT_LOG_MAX) list.lastElementChild.remove();
  }

  // --- info ---

  async loadInfo() {
    this.infoLoaded = true;
    let cam;
    try {
      cam = await fetchJson(api(this.name));
    } catch (e) {
      this.infoLoaded = false;
      return;
    }
    const dl = byId("info-" + this.name);
    if (!dl || !cam || !cam.info) {
      this.infoLoaded = false;
      return;
    }
    const i = cam.info;
    const rows = [
      ["Manufacturer", i.manufacturer],
      ["Model", i.model],
      ["Serial", i.serial],
      ["Firmware", i.firmware],
      ["Battery", i.battery === null || i.battery === undefined ? "" : i.battery + " %"],
    ];
    if (Array.isArray(i.extra)) for (const kv of i.extra) if (Array.isArray(kv)) rows.push([kv[0], kv[1]]);
    dl.replaceChildren(
      ...rows.filter(([, v]) => v !== "" && v !== null && v !== undefined).flatMap(([k, v]) => [h("dt", {}, String(k)), h("dd", { dataset: { field: String(k).toLowerCase() } }, String(v))]),
    );
  }

  // --- capture ---

  async capture() {
    const button = byId("shutter-" + this.name);
    const result = byId("capture-result-" + this.name);
    button.disabled = true;
    button.dataset.busy = "1";
    result.dataset.status = "busy";
    result.replaceChildren(h("li", { class: "hint" }, "taking a picture…"));
    try {
      const answer = await sendJson("POST", api(this.name, "capture"));
      const files = answer && Array.isArray(answer.files) ? answer.files : [];
      result.replaceChildren(
        ...(files.length
          ? files.map((f) =>
              h(
                "li",
                { dataset: { path: f.path } },
                h("a", { href: mediaUrl(this.name, f.path), download: f.path.split("/").pop() }, f.path),
                " ",
                h("span", { class: "file-size" }, formatSize(f.size)),
              ),
            )
          : [h("li", { class: "hint" }, "The camera reported no new file.")]),
      );
      result.dataset.status = "done";
    } catch (e) {
      result.replaceChildren(h("li", { class: "error" }, "capture failed: " + e.message));
      result.dataset.status = "error";
    } finally {
      delete button.dataset.busy;
      button.disabled = !this.connected();
    }
  }

  // --- settings ---

  async loadSettings() {
    const box = byId("settings-" + this.name);
    if (!box) return;
    this.settingsLoaded = true;
    let settings;
    try {
      settings = await fetchJson(api(this.name, "settings"));
    } catch (e) {
      this.settingsLoaded = false;
      box.replaceChildren(h("p", { class: "error" }, "settings: " + e.message));
      return;
    }
    if (!Array.isArray(settings)) return;
    box.replaceChildren(...settings.map((s) => this.settingRow(s)));
    if (settings.length === 0) box.append(h("p", { class: "hint" }, "The camera reports no settings."));
  }

  settingRow(setting) {
    const id = "setting-" + this.name + "-" + setting.key;
    const row = h(
      "div",
      { class: "setting", dataset: { setting: setting.key } },
      h("label", { for: id }, setting.label || setting.key, setting.label && setting.label !== setting.key ? h("small", {}, setting.key) : null),
      h("span", { class: "control" }),
      h("span", { class: "setting-status", role: "status" }),
    );
    this.fillSetting(row, setting);
    return row;
  }

  /** Reads one setting again, unless the user is changing it right now. */
  async refreshSetting(key) {
    const row = document.querySelector(`#settings-${CSS.escape(this.name)} .setting[data-setting="${CSS.escape(key)}"]`);
    if (!row) return;
    const busy = () => row.contains(document.activeElement) || row.querySelector(".setting-status").dataset.status === "saving";
    if (busy()) return;
    try {
      const setting = await fetchJson(api(this.name, "settings", encodeURIComponent(key)));
      if (setting && setting.key === key && !busy() && row.isConnected) this.fillSetting(row, setting);
    } catch {
      // The next full read (Reload, reconnect) shows it.
    }
  }

  /** (Re)builds a setting's control from what the camera reports. */
  fillSetting(row, setting) {
    const id = "setting-" + this.name + "-" + setting.key;
    const value = String(setting.value ?? "");
    let control;
    if (setting.form === "choices" && Array.isArray(setting.choices)) {
      const choices = setting.choices.map(String);
      if (!choices.includes(value)) choices.unshift(value);
      control = h("select", { id }, ...choices.map((c) => h("option", { value: c, selected: c === value }, c)));
      control.value = value;
    } else if (setting.form === "range") {
      control = h("input", { id, type: "number", inputmode: "decimal", min: setting.min, max: setting.max, step: setting.step || "any", value });
      row.title = "from " + setting.min + " to " + setting.max + (setting.step ? " in steps of " + setting.step : "");
    } else {
      control = h("input", { id, type: "text", value, autocomplete: "off", spellcheck: "false" });
    }
    control.disabled = !setting.writable;
    control.dataset.value = value;
    control.addEventListener("change", () => this.saveSetting(row, setting, control));
    row.querySelector(".control").replaceChildren(control);
    row.dataset.writable = setting.writable ? "true" : "false";
  }

  async saveSetting(row, setting, control) {
    const status = row.querySelector(".setting-status");
    const wanted = control.value;
    status.dataset.status = "saving";
    status.textContent = "saving…";
    control.disabled = true;
    try {
      const now = await sendJson("PUT", api(this.name, "settings", encodeURIComponent(setting.key)), { value: wanted });
      this.fillSetting(row, now && typeof now === "object" ? now : setting);
      status.dataset.status = "saved";
      status.textContent = now && String(now.value) !== wanted ? "camera set " + now.value : "saved";
    } catch (e) {
      const reported = e.body && e.body.setting;
      this.fillSetting(row, reported || setting);
      if (e.status === 422) {
        status.dataset.status = "refused";
        status.textContent = "refused: " + e.message + allowedText(reported || setting);
      } else {
        status.dataset.status = "error";
        status.textContent = "error: " + e.message;
      }
    }
  }

  // --- imports ---

  async loadImports() {
    let items;
    try {
      items = await fetchJson(api(this.name, "imports"));
    } catch {
      return;
    }
    if (!Array.isArray(items)) return;
    for (const item of items) this.addImport(item, false);
  }

  addImport(item, fresh) {
    const list = byId("imports-" + this.name);
    if (!list || !item || item.id === undefined || this.importIds.has(item.id)) return;
    this.importIds.add(item.id);
    const fileName = String(item.name || item.camera_path || "");
    const url = typeof item.url === "string" ? item.url.replace(/^\/+/, "") : api(this.name, "imports", item.id);
    const caption = h("span", { class: "file-name" }, fileName);
    const size = h("span", { class: "file-size" }, formatSize(item.size));
    const body = isPicture(fileName)
      ? h("a", { href: url, target: "_blank", rel: "noopener" }, h("img", { class: "thumb", src: url, alt: fileName, loading: "lazy", decoding: "async" }), caption)
      : h("a", { href: url, download: fileName }, h("span", { class: "file-icon", "aria-hidden": "true" }, "▤"), caption, size);
    const li = h(
      "li",
      { dataset: { importId: String(item.id), cameraPath: String(item.camera_path || "") }, class: fresh ? "fresh" : null, title: String(item.camera_path || "") },
      body,
    );
    // Newest (highest id) first, whichever arrives first: the list read on opening or the event.
    const older = [...list.children].find((other) => Number(other.dataset.importId) < Number(item.id));
    list.insertBefore(li, older || null);
    while (list.children.length > IMPORTS_MAX) {
      const last = list.lastElementChild;
      this.importIds.delete(Number(last.dataset.importId));
      last.remove();
    }
  }
}

function allowedText(setting) {
  if (!setting) return "";
  if (setting.form === "choices" && Array.isArray(setting.choices)) return " (allowed: " + setting.choices.join(", ") + ")";
  if (setting.form === "range") return " (allowed: " + setting.min + " to " + setting.max + (setting.step ? ", step " + setting.step : "") + ")";
  return "";
}

// ---------- live view ----------

/** H.264/H.265 live view: the fragmented MP4 of live.mp4 fed into Media Source Extensions. */
class LivePlayer {
  constructor(name, video, status) {
    this.name = name;
    this.video = video;
    this.status = status;
    this.retryMs = LIVE_RETRY_MIN_MS;
    this.stopped = false;
  }

  say(state, text) {
    this.video.dataset.live = state;
    if (this.status) this.status.textContent = text;
  }

  start() {
    this.stopped = false;
    this.run();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.teardown();
    this.say("stopped", "live view stopped");
  }

  teardown() {
    if (this.abort) this.abort.abort();
    this.abort = null;
    this.queue = [];
    this.buffer = null;
    if (this.objectUrl) {
      this.video.removeAttribute("src");
      this.video.load();
      URL.revokeObjectURL(this.objectUrl);
      this.objectUrl = null;
    }
  }

  retry(reason) {
    if (this.stopped) return;
    this.teardown();
    this.say("error", reason + "; retrying in " + Math.round(this.retryMs / 1000) + " s");
    this.retryTimer = setTimeout(() => this.run(), this.retryMs);
    this.retryMs = Math.min(this.retryMs * 2, LIVE_RETRY_MAX_MS);
  }

  async run() {
    if (this.stopped) return;
    const MS = window.ManagedMediaSource || window.MediaSource;
    if (!MS) {
      // No MSE (older iPhones): let the browser play the progressive stream itself.
      this.video.src = api(this.name, "live.mp4");
      this.video.play().catch(() => {});
      this.say("playing", "live (native player)");
      return;
    }
    this.say("starting", "connecting…");
    const abort = new AbortController();
    this.abort = abort;
    let res;
    try {
      res = await fetch(api(this.name, "live.mp4"), { signal: abort.signal });
    } catch (e) {
      if (!abort.signal.aborted) this.retry("live stream failed: " + e.message);
      return;
    }
    if (!res.ok) {
      let text = "HTTP " + res.status;
      try {
        const body = await res.json();
        if (body && body.error) text = body.error;
      } catch {}
      if (res.status === 501) {
        this.say("unsupported", text);
        return;
      }
      this.retry(text);
      return;
    }
    const reader = res.body.getReader();
    let head = new Uint8Array(0);
    let codecs = res.headers.get("X-Codecs");
    if (!codecs) {
      // No header: read until the init segment's sample entry says which codec it is.
      while (!codecs && head.length < 65536) {
        const { value, done } = await reader.read().catch(() => ({ done: true }));
        if (done || this.abort !== abort) return this.abort === abort && this.retry("live stream ended");
        head = concat(head, value);
        codecs = codecsFromInit(head);
      }
      if (!codecs) return this.retry("unknown codec");
    }
    const mime = 'video/mp4; codecs="' + codecs + '"';
    if (!MS.isTypeSupported(mime)) {
      abort.abort();
      this.say("unsupported", "this browser cannot play " + codecs + " (try the RTSP stream in VLC)");
      return;
    }
    const source = new MS();
    this.objectUrl = URL.createObjectURL(source);
    this.video.disableRemotePlayback = true;
    this.video.src = this.objectUrl;
    await new Promise((resolve) => source.addEventListener("sourceopen", resolve, { once: true }));
    if (this.abort !== abort) return;
    let buffer;
    try {
      buffer = source.addSourceBuffer(mime);
      // Timestamps as they come, contiguous from 0: a camera restarting its clock does not stall us.
      buffer.mode = "sequence";
    } catch (e) {
      return this.retry("cannot play " + codecs + ": " + e.message);
    }
    this.buffer = buffer;
    this.queue = head.length ? [head] : [];
    buffer.addEventListener("updateend", () => this.pump());
    buffer.addEventListener("error", () => this.retry("the browser refused the stream"));
    this.video.addEventListener("playing", () => this.onPlaying(abort), { once: true });
    this.pump();
    for (;;) {
      let chunk;
      try {
        chunk = await reader.read();
      } catch (e) {
        if (this.abort === abort) this.retry("live stream broke: " + e.message);
        return;
      }
      if (this.abort !== abort) return;
      if (chunk.done) return this.retry("live stream ended");
      this.queue.push(chunk.value);
      if (this.queue.length > LIVE_QUEUE_MAX) return this.retry("the page fell behind");
      this.pump();
    }
  }

  onPlaying(abort) {
    if (this.abort !== abort) return;
    this.retryMs = LIVE_RETRY_MIN_MS;
    this.say("playing", "live");
  }

  /** Appends the next chunk when the SourceBuffer is idle; trims old video and keeps the playhead
   * near the live edge. */
  pump() {
    const buffer = this.buffer;
    if (!buffer || buffer.updating) return;
    const video = this.video;
    const ranges = buffer.buffered;
    if (ranges.length > 0) {
      const start = ranges.start(0);
      const end = ranges.end(ranges.length - 1);
      if (video.currentTime < start || end - video.currentTime > LIVE_MAX_LAG_S) {
        video.currentTime = Math.max(start, end - 0.3);
      }
      if (video.paused && video.readyState >= 2) video.play().catch(() => {});
      if (video.currentTime - start > LIVE_BACK_BUFFER_S * 2) {
        buffer.remove(start, video.currentTime - LIVE_BACK_BUFFER_S);
        return; // updateend calls back
      }
    }
    const next = this.queue.shift();
    if (!next) return;
    try {
      buffer.appendBuffer(next);
    } catch (e) {
      if (e.name === "QuotaExceededError" && ranges.length > 0) {
        this.queue.unshift(next);
        buffer.remove(ranges.start(0), Math.max(ranges.start(0) + 0.1, video.currentTime - 1));
      } else {
        this.retry("cannot append video: " + e.message);
      }
    }
  }
}

function concat(a, b) {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

function hex2(n) {
  return n.toString(16).toUpperCase().padStart(2, "0");
}

/** The MIME codecs string from an init segment's avcC (H.264: avc1.PPCCLL) when the server did not
 * send X-Codecs; null while it is not there yet. H.265 needs the header. */
function codecsFromInit(bytes) {
  for (let i = 4; i + 8 <= bytes.length; i++) {
    if (bytes[i] === 0x61 && bytes[i + 1] === 0x76 && bytes[i + 2] === 0x63 && bytes[i + 3] === 0x43) {
      // "avcC": configurationVersion, profile, compatibility, level
      if (i + 8 > bytes.length) return null;
      return "avc1." + hex2(bytes[i + 5]) + hex2(bytes[i + 6]) + hex2(bytes[i + 7]);
    }
  }
  return null;
}

/** JPEG live view: the browser shows multipart/x-mixed-replace in an <img> natively. */
class MjpegView {
  constructor(name, img, status) {
    this.name = name;
    this.img = img;
    this.status = status;
    this.retryMs = LIVE_RETRY_MIN_MS;
    this.onLoad = () => {
      this.retryMs = LIVE_RETRY_MIN_MS;
      this.say("playing", "live");
    };
    this.onError = () => {
      if (this.stopped) return;
      this.say("error", "live view failed; retrying in " + Math.round(this.retryMs / 1000) + " s");
      this.img.removeAttribute("src");
      this.retryTimer = setTimeout(() => this.start(), this.retryMs);
      this.retryMs = Math.min(this.retryMs * 2, LIVE_RETRY_MAX_MS);
    };
  }

  say(state, text) {
    this.img.dataset.live = state;
    if (this.status) this.status.textContent = text;
  }

  start() {
    this.stopped = false;
    this.img.addEventListener("load", this.onLoad);
    this.img.addEventListener("error", this.onError);
    this.say("starting", "connecting…");
    // A fresh URL each time: the browser must open a new stream, not reuse a dead one.
    this.img.src = api(this.name, "live.mjpeg") + "?t=" + Date.now();
    // Not every browser fires load for a multipart stream's first picture: look for it too.
    clearInterval(this.firstPicture);
    this.firstPicture = setInterval(() => {
      if (this.img.naturalWidth > 0) {
        clearInterval(this.firstPicture);
        if (this.img.dataset.live === "starting") this.onLoad();
      }
    }, 250);
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.firstPicture);
    this.img.removeEventListener("load", this.onLoad);
    this.img.removeEventListener("error", this.onError);
    // Dropping the source closes the stream's connection.
    this.img.removeAttribute("src");
    this.say("stopped", "live view stopped");
  }
}

// ---------- start ----------

let pollTimer = null;

function schedulePoll() {
  clearTimeout(pollTimer);
  if (document.visibilityState === "hidden") return;
  pollTimer = setTimeout(async () => {
    await refreshList();
    schedulePoll();
  }, LIST_POLL_MS);
}

window.addEventListener("hashchange", route);
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState !== "hidden") refreshList().then(schedulePoll);
  else clearTimeout(pollTimer);
});
refreshList().then(schedulePoll);

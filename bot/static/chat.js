/* 护苗 web chat. Plain JS, no build step, no frameworks.
 *
 * Runs under a strict Content-Security-Policy (script-src 'self'): no inline
 * handlers, no eval. Every user or server string reaches the DOM through
 * textContent / createTextNode only — never innerHTML.
 *
 * PRIVACY: children often share a family phone, so the transcript lives only
 * in memory (this page's DOM) and is gone when the page is closed. Only the
 * opaque session id and the id of the last update seen (a number) are kept in
 * localStorage — never any message text.
 */
"use strict";

(() => {
  const MAX_CHARS = 2000;            // the server's limit (413 above it)
  const COUNT_FROM = 1500;           // show the counter once the text gets long
  const POLL_MS = 3000;
  const POLL_MAX_MS = 60000;
  const SEND_TIMEOUT_MS = 45000;
  const TIME_GAP_MS = 5 * 60 * 1000; // WeChat-style: a time label after 5 minutes of quiet
  const SESSION_KEY = "humiao.session";
  const AFTER_KEY = "humiao.after";
  const URGENCIES = ["red", "orange", "yellow", "blue"];
  const HOTLINES = [["110", "拨打 110 报警"], ["120", "拨打 120 急救"], ["12355", "拨打 12355 青少年热线"]];

  const $ = (id) => document.getElementById(id);
  const log = $("log"), form = $("form"), input = $("text"), sendBtn = $("send");
  const count = $("count"), errorBox = $("error"), endBtn = $("end");
  const chips = Array.from(document.querySelectorAll(".chip"));
  const demo = document.body.dataset.demo === "true";
  const welcome = Array.from(log.children, (n) => n.cloneNode(true));

  const store = {
    get(k) { try { return localStorage.getItem(k); } catch { return null; } },
    set(k, v) { try { localStorage.setItem(k, v); } catch { /* storage off: memory only */ } },
    del(k) { try { localStorage.removeItem(k); } catch { /* ignore */ } },
  };

  function newSessionId() {
    if (window.crypto && typeof crypto.randomUUID === "function") return crypto.randomUUID();
    const bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  // A stored id means the server has seen this session: resume polling for replies.
  let session = store.get(SESSION_KEY);
  let started = Boolean(session);
  if (!session) session = newSessionId();
  let after = (started && Number(store.get(AFTER_KEY))) || 0;
  let lastStamp = 0;
  let sending = false;
  let pollTimer = 0, pollDelay = POLL_MS, polling = false;

  // ---- DOM helpers (text only) -------------------------------------------
  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text != null) node.textContent = String(text);
    return node;
  }

  const pad = (n) => String(n).padStart(2, "0");
  function formatTime(d) {
    const now = new Date();
    const hm = pad(d.getHours()) + ":" + pad(d.getMinutes());
    const day = new Date(d.getFullYear(), d.getMonth(), d.getDate());
    const today = new Date(now.getFullYear(), now.getMonth(), now.getDate());
    const days = Math.round((today - day) / 86400000);
    if (days === 0) return hm;
    if (days === 1) return "昨天 " + hm;
    const md = (d.getMonth() + 1) + "月" + d.getDate() + "日 " + hm;
    return d.getFullYear() === now.getFullYear() ? md : d.getFullYear() + "年" + md;
  }

  function parseTime(at) {
    const d = new Date(at);
    return Number.isNaN(d.getTime()) ? new Date() : d;
  }

  const nearBottom = () => log.scrollHeight - log.scrollTop - log.clientHeight < 80;
  const toBottom = () => { log.scrollTop = log.scrollHeight; };

  /** Append a message row, preceded by a time label when the chat was quiet. Returns that label, if any. */
  function addRow(row, when, force) {
    const stick = force || nearBottom();
    let label = null;
    if (when) {
      const t = when.getTime();
      if (!lastStamp || t - lastStamp >= TIME_GAP_MS) {
        label = el("div", "time", formatTime(when));
        log.append(label);
        lastStamp = t;
      }
    }
    log.append(row);
    if (stick) toBottom();
    return label;
  }

  function userRow(text) {
    const row = el("div", "row me");
    const bubble = el("div", "bubble");
    bubble.append(el("span", "sr-only", "我："), document.createTextNode(text));
    row.append(bubble);
    return row;
  }

  function botRow(text, opts = {}) {
    const row = el("div", "row bot" + (opts.operator ? " op" : ""));
    const avatar = el("span", "avatar", opts.operator ? "人" : "苗");
    avatar.setAttribute("aria-hidden", "true");
    const body = el("div", "body");
    if (opts.operator) body.append(el("div", "who", "工作人员"));
    const bubble = el("div", "bubble");
    if (!opts.operator) bubble.append(el("span", "sr-only", "护苗："));
    bubble.append(document.createTextNode(text));
    body.append(bubble);
    if (opts.urgency === "red") {
      row.classList.add("red");
      const calls = el("div", "calls");
      for (const [num, label] of HOTLINES) {
        const a = el("a", "call", label);
        a.href = "tel:" + num;
        calls.append(a);
      }
      body.append(calls);
    }
    if (demo && !opts.operator && (opts.urgency || opts.category)) {
      const u = URGENCIES.includes(opts.urgency) ? opts.urgency : "unknown";
      body.append(el("span", "badge u-" + u, (opts.urgency || "?") + " · " + (opts.category || "?")));
    }
    row.append(avatar, body);
    return row;
  }

  function typingRow() {
    const row = el("div", "row bot");
    row.setAttribute("aria-hidden", "true");
    const avatar = el("span", "avatar", "苗");
    const bubble = el("div", "bubble typing");
    bubble.append(el("i"), el("i"), el("i"));
    const body = el("div", "body");
    body.append(bubble);
    row.append(avatar, body);
    return row;
  }

  // ---- input ----------------------------------------------------------------
  const chars = (s) => Array.from(s).length; // code points, as the server counts

  function refreshInput() {
    const n = chars(input.value);
    count.textContent = n + "/" + MAX_CHARS;
    count.hidden = n < COUNT_FROM;
    count.classList.toggle("over", n > MAX_CHARS);
    sendBtn.disabled = sending || !input.value.trim() || n > MAX_CHARS;
    input.style.height = "auto";             // CSSOM, allowed by the CSP
    input.style.height = input.scrollHeight + "px";
  }

  function showError(msg) { errorBox.textContent = msg; errorBox.hidden = false; }
  function hideError() { errorBox.hidden = true; errorBox.textContent = ""; }

  function setBusy(busy) {
    sending = busy;
    input.readOnly = busy;
    for (const c of chips) c.disabled = busy;
    refreshInput();
  }

  function errorText(status, data) {
    if (data && typeof data.error === "string" && data.error.trim()) return data.error;
    if (status === 413) return "消息太长了，请分几次发送。";
    if (status === 429) return "发得有点快，请等几秒再发。";
    return "消息没有发出去，请稍后再试。如果有危险，请马上拨打 110。";
  }

  // ---- sending ----------------------------------------------------------------
  async function send(raw, fromInput) {
    const text = raw.trim();
    if (sending || !text) return;
    if (chars(text) > MAX_CHARS) {
      showError("消息太长了，最多 " + MAX_CHARS + " 个字，可以分几次发。");
      return;
    }
    hideError();
    setBusy(true);
    const sid = session;
    const prevStamp = lastStamp;
    const row = userRow(text);
    row.classList.add("pending");
    const label = addRow(row, new Date(), true);
    const typing = typingRow();
    addRow(typing, null, true);
    const ctrl = new AbortController();
    const timer = setTimeout(() => ctrl.abort(), SEND_TIMEOUT_MS);
    try {
      let res, data = null;
      try {
        res = await fetch("/api/chat", {
          method: "POST",
          headers: { "Content-Type": "application/json", Accept: "application/json" },
          body: JSON.stringify({ session: sid, text }),
          cache: "no-store",
          signal: ctrl.signal,
        });
        data = await res.json().catch(() => null);
      } catch {
        throw new Error("网络好像不太好，消息没有发出去。请稍后再试；如果有危险，请马上拨打 110。");
      }
      if (!res.ok || !data || typeof data !== "object") throw new Error(errorText(res.status, data));
      if (sid !== session) return; // the conversation was ended meanwhile
      row.classList.remove("pending");
      if (fromInput) input.value = "";
      if (!started) { started = true; store.set(SESSION_KEY, sid); }
      // An empty reply means a person has taken over: the bot stays silent.
      if (typeof data.reply === "string" && data.reply !== "") {
        addRow(botRow(data.reply, { urgency: data.urgency, category: data.category }), new Date());
      }
      pollDelay = POLL_MS;
      schedulePoll(POLL_MS);
    } catch (err) {
      if (sid !== session) return;
      row.remove();                          // the typed text stays in the box to try again
      if (label) { label.remove(); lastStamp = prevStamp; }
      showError(err.message);
    } finally {
      clearTimeout(timer);
      typing.remove();
      setBusy(false);
    }
  }

  // ---- polling for later replies (operator, or delayed bot) ----------------------
  function schedulePoll(ms) {
    clearTimeout(pollTimer);
    pollTimer = 0;
    if (started && !document.hidden) pollTimer = setTimeout(poll, ms);
  }

  async function poll() {
    pollTimer = 0;
    if (polling || !started || document.hidden) return; // an in-flight poll reschedules itself
    polling = true;
    const sid = session;
    try {
      const url = "/api/chat/updates?session=" + encodeURIComponent(sid) + "&after=" + after;
      const res = await fetch(url, { cache: "no-store", headers: { Accept: "application/json" } });
      if (!res.ok) throw new Error("HTTP " + res.status);
      const data = await res.json();
      if (sid !== session) return;
      const list = data && Array.isArray(data.messages) ? data.messages : [];
      const fresh = list
        .filter((m) => m && Number.isSafeInteger(m.id) && m.id > after && typeof m.text === "string")
        .sort((a, b) => a.id - b.id);
      for (const m of fresh) {
        after = m.id;
        if (m.text) addRow(botRow(m.text, { operator: m.from === "operator" }), parseTime(m.at));
      }
      if (fresh.length) store.set(AFTER_KEY, String(after));
      pollDelay = POLL_MS;
    } catch {
      pollDelay = Math.min(pollDelay * 2, POLL_MAX_MS); // quiet back-off; nothing shown
    } finally {
      polling = false;
      schedulePoll(pollDelay);
    }
  }

  document.addEventListener("visibilitychange", () => {
    if (document.hidden) { clearTimeout(pollTimer); pollTimer = 0; }
    else { pollDelay = POLL_MS; schedulePoll(0); }
  });

  // ---- ending the conversation ------------------------------------------------------
  function endConversation() {
    if (!window.confirm("要结束这次对话吗？\n这个页面上的聊天记录会被清除。")) return;
    clearTimeout(pollTimer);
    pollTimer = 0;
    store.del(SESSION_KEY);
    store.del(AFTER_KEY);
    session = newSessionId();
    started = false;
    after = 0;
    pollDelay = POLL_MS;
    lastStamp = 0;
    log.replaceChildren(...welcome.map((n) => n.cloneNode(true)));
    stampWelcome();
    input.value = "";
    hideError();
    refreshInput();
  }

  function stampWelcome() {
    const now = new Date();
    log.prepend(el("div", "time", formatTime(now)));
    lastStamp = now.getTime();
  }

  // ---- wiring ---------------------------------------------------------------------------
  form.addEventListener("submit", (e) => { e.preventDefault(); send(input.value, true); });
  input.addEventListener("keydown", (e) => {
    // Enter sends, Shift+Enter adds a line; never while an IME (pinyin) is composing.
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
      e.preventDefault();
      send(input.value, true);
    }
  });
  input.addEventListener("input", () => { if (!errorBox.hidden) hideError(); refreshInput(); });
  input.addEventListener("focus", () => setTimeout(toBottom, 300)); // after the keyboard opens
  for (const chip of chips) chip.addEventListener("click", () => send(chip.textContent, false));
  endBtn.addEventListener("click", endConversation);

  stampWelcome();
  refreshInput();
  schedulePoll(0);
})();

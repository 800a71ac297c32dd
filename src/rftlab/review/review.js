// rftlab review: the page. Texts are put in with textContent only (never as HTML).
"use strict";

const NAME_KEY = "rftlab-review-reviewer";
const LABELS = { left: "left", right: "right", cant_tell: "can't tell" };
const $ = (id) => document.getElementById(id);

let reviewer = localStorage.getItem(NAME_KEY) || "";
let state = null;
let busy = false;

async function api(path, options) {
  const res = await fetch(path, options);
  let body = {};
  try {
    body = await res.json();
  } catch (e) {
    body = {};
  }
  if (!res.ok) {
    const err = new Error(body.error || "HTTP " + res.status);
    err.status = res.status;
    throw err;
  }
  return body;
}

function showError(message) {
  $("error").textContent = message || "";
  $("error").hidden = !message;
}

function askName() {
  state = null;
  $("pair").hidden = true;
  $("done").hidden = true;
  $("name-form").hidden = false;
  $("who").textContent = "";
  $("name").value = reviewer;
  $("name").focus();
}

async function load(index) {
  const query = new URLSearchParams({ reviewer: reviewer });
  if (index !== undefined && index !== null) query.set("index", String(index));
  try {
    state = await api("/api/pair?" + query.toString());
  } catch (e) {
    showError(e.message);
    if (e.status === 400 && !state) askName();
    return;
  }
  showError("");
  render();
}

function render() {
  $("name-form").hidden = true;
  $("who").textContent = "Voting as " + reviewer;
  $("progress").max = Math.max(state.total, 1);
  $("progress").value = state.done;
  $("progress-text").textContent = state.done + " of " + state.total + " voted";
  const pair = state.pair;
  $("pair").hidden = !pair;
  $("done").hidden = !!pair;
  if (!pair) {
    $("done-prev").focus();
    return;
  }
  $("prompt").textContent = pair.prompt;
  $("left-text").textContent = pair.left;
  $("right-text").textContent = pair.right;
  $("comment").value = state.comment || "";
  for (const el of document.querySelectorAll("[data-choice]")) {
    const chosen = el.dataset.choice === state.vote;
    el.classList.toggle("chosen", chosen);
    el.setAttribute("aria-pressed", chosen ? "true" : "false");
  }
  $("status").textContent = "Pair " + (state.index + 1) + " of " + state.total +
    (state.vote ? " \u00b7 your vote: " + LABELS[state.vote] : "");
  $("prev").disabled = state.index === 0;
  document.activeElement && document.activeElement.blur && document.activeElement.blur();
}

async function vote(choice) {
  if (busy || !state || !state.pair) return;
  busy = true;
  showError("");
  try {
    const body = JSON.stringify({ reviewer: reviewer, pair_id: state.pair.id, choice: choice,
                                  comment: $("comment").value });
    const res = await api("/api/vote", { method: "POST", headers: { "Content-Type": "application/json" }, body: body });
    await load(res.next_index);
  } catch (e) {
    showError(e.message);
  } finally {
    busy = false;
  }
}

function previous() {
  if (!state) return;
  const index = state.pair ? state.index - 1 : state.total - 1;
  if (index >= 0) load(index);
}

function onKey(ev) {
  if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
  const target = ev.target;
  if (target && (target.tagName === "TEXTAREA" || target.tagName === "INPUT")) {
    if (ev.key === "Escape") target.blur();
    return;
  }
  if (!state) return;
  const key = ev.key;
  if (state.pair && (key === "1" || key === "ArrowLeft")) vote("left");
  else if (state.pair && (key === "2" || key === "ArrowRight")) vote("right");
  else if (state.pair && (key === "3" || key === "0" || key === "ArrowDown")) vote("cant_tell");
  else if (state.pair && key === "c") $("comment").focus();
  else if (key === "n") load();
  else if (key === "b") previous();
  else return;
  ev.preventDefault();
}

async function start() {
  try {
    const info = await api("/api/info");
    const question = "Which reply sounds like " + info.target + "?";
    $("question").textContent = question;
    document.title = question + " \u2014 rftlab review";
  } catch (e) {
    showError(e.message);
  }
  $("name-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const name = $("name").value.split(/\s+/).filter(Boolean).join(" ");
    if (!name) return;
    reviewer = name;
    localStorage.setItem(NAME_KEY, reviewer);
    load();
  });
  for (const el of document.querySelectorAll("[data-choice]")) {
    el.addEventListener("click", () => vote(el.dataset.choice));
  }
  $("prev").addEventListener("click", previous);
  $("done-prev").addEventListener("click", previous);
  $("next").addEventListener("click", () => load());
  $("change-name").addEventListener("click", () => {
    localStorage.removeItem(NAME_KEY);
    askName();
  });
  document.addEventListener("keydown", onKey);
  if (reviewer) load();
  else askName();
}

document.addEventListener("DOMContentLoaded", start);

// The annotation loop: a queue of tasks fetched ahead, answers kept until their batch is sent,
// undo while unsent, and every unsent answer flushed on save, at the end and on page close.

import { Api, ApiError } from "./api.js";
import { setupHelp, showKeys, toggleHelp } from "./help.js";
import { bindKeys, CardKeys } from "./keys.js";
import { emit, installPageApi } from "./page-api.js";
import { showHistory, showProgress, showRunInfo, showSaveState, showStats } from "./sidebar.js";
import { labelColour, setLabelColours } from "./dom.js";
import { el, LABEL_VIEWS, renderTask } from "./views.js";

const params = new URLSearchParams(location.search);
const api = new Api(params.get("session"));
const $ = (id) => document.getElementById(id);

const state = {
  project: null,
  config: {},
  labels: [],
  labelIndex: 0,
  queue: [], // tasks fetched, not yet shown
  current: null, // the task on screen; the view edits it in place
  view: null,
  keys: { actions: {}, labels: {} }, // the run's keymap, from the server
  cardKeys: null, // the keys of the labels and options on screen
  outbox: [], // history items answered and not yet sent
  inflight: [], // history items being sent
  history: [], // {answer, state: "unsent" | "sending" | "saved"}, newest last
  seen: new Set(), // task hashes this page already holds, so a batch never shows a task twice
  problems: new WeakMap(), // task -> why the server refused its answer, or why it can't be shown
  broken: false, // the task on screen can't be shown: it can only be skipped
  fetching: null,
  stopped: false, // the server said asking again won't help (e.g. a read-only database)
  exhausted: false,
  sending: null,
  sendAgain: false,
  failing: false,
  answeredOnce: false,
  retryTimer: null,
  recheckTimer: null, // asks again after a batch with nothing new (see RECHECK_MS)
  refused: null, // why the server refuses this session (403), shown instead of tasks
};

const batchSize = () => state.config.batch_size || 10;
// A session that finds nothing left asks again now and then: tasks that other sessions left
// unanswered come back once their claims expire, and routed tasks open up as others answer.
const RECHECK_MS = 30000;

// fetching tasks -------------------------------------------------------------------------------
function fetchMore(fresh = false) {
  if (state.fetching) return state.fetching;
  state.fetching = api
    .questions(fresh)
    .then((reply) => {
      let added = 0;
      for (const task of reply.tasks) {
        if (state.seen.has(task._task_hash)) continue;
        state.seen.add(task._task_hash);
        state.queue.push(task);
        added += 1;
      }
      // An empty batch (or one of nothing new) means the stream is done for this session,
      // for now.
      if (added === 0) {
        state.exhausted = true;
        scheduleRecheck();
      }
      if (!state.answeredOnce) showProgress(reply.progress, reply.forecast);
      api.sessionId = reply.session;
    })
    .catch((err) => {
      if (err instanceof ApiError && err.status === 403) {
        // A session the run does not allow: say why, and ask no more.
        state.refused = err.message;
        state.exhausted = true;
        return;
      }
      if (!transient(err)) {
        // e.g. a read-only or corrupt database: asking again won't help; say so and stop.
        state.stopped = true;
        say(`Can't load tasks: ${err.message}`, "invalid");
        return;
      }
      say(`Can't load tasks: ${err.message}. Retrying…`);
      return new Promise((resolve) => setTimeout(resolve, 2000));
    })
    .finally(() => {
      state.fetching = null;
    });
  return state.fetching;
}

function scheduleRecheck() {
  if (state.recheckTimer || state.refused || state.stopped) return;
  state.recheckTimer = setTimeout(() => {
    state.recheckTimer = null;
    state.exhausted = false;
    maybePrefetch();
  }, RECHECK_MS);
}

// Keep a whole batch queued behind the task on screen: the annotator never waits.
function maybePrefetch() {
  if (state.stopped) return;
  if (!state.exhausted && !state.fetching && state.queue.length < Math.max(2, batchSize())) {
    fetchMore().then(() => {
      if (!state.current) showNext();
    });
  }
}

// showing a task -------------------------------------------------------------------------------
function showNext() {
  if (!state.current) state.current = state.queue.shift() || null;
  render();
  maybePrefetch();
}

function render() {
  const task = state.current;
  const content = $("content");
  $("meta").replaceChildren();
  $("score").hidden = true;
  state.broken = false;
  state.cardKeys = new CardKeys(state.keys);
  paintLabels();
  if (!task) {
    state.view = null;
    say(null);
    if (state.refused) {
      content.replaceChildren(el("div", "empty refused", state.refused));
    } else if (state.exhausted && !state.fetching) {
      const empty = el("div", "empty", "No tasks available.");
      empty.append(el("div", "empty-note", `Checking for more every ${RECHECK_MS / 1000} s.`));
      content.replaceChildren(empty);
      flush();
    } else {
      content.replaceChildren(el("div", "empty", "Loading…"));
    }
    return;
  }
  try {
    state.view = renderTask(state.project.view_id, task, viewContext);
  } catch (err) {
    // A task of a shape the view can't show (the server checks tasks, but not a recipe's
    // own JavaScript): say so and let it be skipped rather than stop on "Loading…".
    state.view = null;
    state.broken = true;
    content.replaceChildren(el("div", "empty", "This task can't be shown."));
    say(`This task can't be shown (${err.message}). Skip it to go on.`, "invalid", true);
    return;
  }
  content.replaceChildren(state.view.node);
  if (typeof task.score === "number") {
    $("score").textContent = `Score: ${task.score.toFixed(2)}`;
    $("score").hidden = false;
  }
  for (const [key, value] of Object.entries(task.meta || {})) {
    const row = el("div", "meta-row");
    row.append(el("span", "meta-key", key), el("span", "meta-value", typeof value === "object" ? JSON.stringify(value) : value));
    $("meta").append(row);
  }
  const problem = state.problems.get(task);
  if (problem) say(`Not saved: ${problem} Fix the answer, or skip the task.`, "invalid", true);
  else say(null);
  emit("rrtask", { task });
}

// The views of the card: the view, or each of its blocks.
function cardViews() {
  const viewId = state.project.view_id;
  // A review task is edited in its own view (review_view_id).
  if (viewId === "review") return [(state.current && state.current.review_view_id) || "text"];
  return viewId === "blocks" ? (state.config.blocks || []).map((b) => b.view_id) : [viewId];
}

const viewContext = {
  get labels() {
    return state.labels;
  },
  get config() {
    return state.config;
  },
  claimKey: (id, handler) => state.cardKeys.claim(id, handler),
  get choiceStyle() {
    return state.config.choice_style;
  },
  activeLabel: () => state.labels[state.labelIndex],
  selectLabel: (i) => {
    if (i >= 0 && i < state.labels.length) state.labelIndex = i;
    markActiveLabel();
  },
};

// The label bar of the span views; its labels claim their keys before the card's options.
function paintLabels() {
  const bar = $("label-bar");
  if (!state.current || !cardViews().some((v) => LABEL_VIEWS.has(v))) {
    bar.hidden = true;
    return;
  }
  bar.hidden = false;
  bar.replaceChildren();
  state.labels.forEach((label, i) => {
    const active = i === state.labelIndex ? " active" : "";
    const button = el("button", `label-button ${labelColour(label, state.labels)}${active}`);
    button.type = "button";
    const key = state.cardKeys.claim(label, () => viewContext.selectLabel(i));
    if (key) button.append(el("kbd", null, key));
    button.append(label);
    button.addEventListener("click", () => viewContext.selectLabel(i));
    bar.append(button);
  });
}

// Only the active label changes: the buttons are marked again, their keys stay.
function markActiveLabel() {
  $("label-bar")
    .querySelectorAll(".label-button")
    .forEach((button, i) => button.classList.toggle("active", i === state.labelIndex));
}

// A message under the task; `skippable` adds a button that drops the task from this page.
function say(text, kind = "info", skippable = false) {
  const node = $("message");
  node.hidden = !text;
  node.className = kind;
  node.textContent = text || "";
  if (skippable) {
    const button = el("button", "skip", "Skip this task");
    button.type = "button";
    button.addEventListener("click", skip);
    node.append(" ", button);
  }
}

// Drop the task on screen without an answer (one the server refused, or one that can't be
// shown): it stays with this session until a reload or its claim expires.
function skip() {
  if (!state.current) return;
  state.problems.delete(state.current);
  state.current = null;
  showNext();
}

// answering ------------------------------------------------------------------------------------
function answer(verdict) {
  const task = state.current;
  if (!task || state.broken) return;
  const item = { answer: { ...task, answer: verdict }, state: "unsent" };
  emit("rranswer", { answer: item.answer });
  state.problems.delete(task);
  state.history.push(item);
  state.outbox.push(item);
  state.current = null;
  showNext();
  if (state.config.instant_submit || state.outbox.length >= batchSize()) send();
  paintSidebar();
}

// Take an unsent answer back: its task is shown again as it was answered.
function reopen(item) {
  if (item.state !== "unsent") return;
  state.outbox = state.outbox.filter((i) => i !== item);
  state.history = state.history.filter((i) => i !== item);
  if (state.current) state.queue.unshift(state.current);
  const { answer: _verdict, ...task } = item.answer;
  state.current = task;
  render();
  paintSidebar();
}

function undo() {
  const last = state.history[state.history.length - 1];
  if (!last) return;
  if (last.state !== "unsent") {
    say("That answer is already saved and can't be undone.");
    return;
  }
  reopen(last);
}

// saving ---------------------------------------------------------------------------------------
function send() {
  if (state.sending) {
    state.sendAgain = true;
    return state.sending;
  }
  if (!state.outbox.length) return Promise.resolve();
  const batch = state.outbox.splice(0);
  for (const item of batch) item.state = "sending";
  state.inflight = batch;
  state.sending = api
    .answers(batch.map((item) => item.answer))
    .then((reply) => saved(batch, reply))
    .catch((err) => {
      // Not saved: keep them (not undoable: the server may have stored them) and retry.
      state.outbox.unshift(...batch);
      state.failing = true;
      say(`Can't save answers: ${err.message}`, "invalid");
      if (transient(err)) retrySoon();
    })
    .finally(() => {
      state.sending = null;
      state.inflight = [];
      paintSidebar();
      if (state.sendAgain) {
        state.sendAgain = false;
        send();
      }
    });
  paintSidebar();
  return state.sending;
}

function saved(batch, reply) {
  state.failing = false;
  state.answeredOnce = true;
  // Each answer is judged on its own: the others of the batch are saved. A refused one is
  // never sent again by itself: its task comes back on screen with the reason, to be
  // answered again (fixed) or skipped.
  const refused = new Map((reply.refused || []).map((r) => [r.index, r.reason]));
  const back = [];
  batch.forEach((item, i) => {
    if (!refused.has(i)) {
      item.state = "saved";
      return;
    }
    state.history = state.history.filter((h) => h !== item);
    const { answer: _verdict, ...task } = item.answer;
    state.problems.set(task, refused.get(i));
    back.push(task);
  });
  if (back.length) {
    if (state.current) state.queue.unshift(state.current);
    state.current = back.shift();
    state.queue.unshift(...back);
    render();
  } else if (state.current === null) {
    render();
  }
  showProgress(reply.progress, reply.forecast);
  if (state.config.show_stats) showStats(reply.stats);
  trimHistory();
}

// An outage (the server or its database unreachable, 502-504) passes: try again. Anything else
// (a refused batch, a read-only or corrupt database: 4xx, 500) would fail the same way again.
function transient(err) {
  return !(err instanceof ApiError) || [502, 503, 504].includes(err.status);
}

function retrySoon() {
  if (state.retryTimer) return;
  state.retryTimer = setTimeout(() => {
    state.retryTimer = null;
    send();
  }, 2000);
}

function flush() {
  return send();
}

function trimHistory() {
  const size = state.config.history_size || 10;
  const keepFrom = state.history.length - size;
  state.history = state.history.filter((item, i) => i >= keepFrom || item.state !== "saved");
}

function paintSidebar() {
  showHistory(state.history, state.config.history_size || 10, reopen);
  showSaveState(state.outbox.length + state.inflight.length, state.failing);
}

// start ----------------------------------------------------------------------------------------
async function start() {
  try {
    state.project = await api.project();
  } catch (err) {
    say(`Can't reach the server: ${err.message}`, "invalid");
    return;
  }
  const project = state.project;
  state.config = project.config || {};
  setLabelColours(state.config.custom_theme);
  state.labels = project.labels && project.labels.length ? project.labels : ["ENTITY"];
  document.title = `${project.recipe} · ${project.dataset ?? "recipe-runner"}`;
  state.keys = project.keys || state.keys;
  const buttons = state.config.buttons || ["accept", "reject", "ignore", "undo"];
  for (const button of document.querySelectorAll("#buttons button")) {
    const action = button.dataset.action;
    button.hidden = action !== "save" && !buttons.includes(action);
    button.addEventListener("click", () => actions[action]());
    // The button shows its action's first key, as the keymap has it.
    const key = Object.keys(state.keys.actions).find((k) => state.keys.actions[k] === action);
    button.querySelector("kbd").textContent = key || "";
    button.title = key ? `${action} (${key})` : action;
  }
  const helpKey = Object.keys(state.keys.actions).find((k) => state.keys.actions[k] === "help");
  $("help-button").querySelector("kbd").textContent = helpKey || "";
  setupHelp(project.instructions);
  showKeys(state.keys);
  bindKeys(state.keys.actions, actions);
  await fetchMore(true);
  showRunInfo(project, api.sessionId || "default");
  showNext();
  paintSidebar();
  emit("rrmount", { project });
  if (state.config.show_stats) api.stats().then(showStats, () => {});
  // The browser delivers a keepalive request even as the page goes away.
  window.addEventListener("pagehide", () => {
    const pending = [...state.inflight, ...state.outbox];
    if (!pending.length || !api.leave(pending.map((item) => item.answer))) return;
    // Handed to the browser: if this page comes back (from the back-forward cache), those
    // answers are on their way and no longer undoable.
    for (const item of state.outbox) item.state = "saved";
    state.outbox = [];
    paintSidebar();
  });
}

const actions = {
  accept: () => answer("accept"),
  reject: () => answer("reject"),
  ignore: () => answer("ignore"),
  undo,
  skip,
  save: flush,
  help: () => toggleHelp(),
  close: () => toggleHelp(false),
  card: (name) => Boolean(state.cardKeys && state.cardKeys.press(name)),
};

// Changes made by the recipe's own code go into the task on screen, which is drawn again.
function updateTask(patch) {
  if (!state.current || !patch || typeof patch !== "object") return;
  Object.assign(state.current, patch);
  render();
  emit("rrupdate", { task: state.current });
}

installPageApi({
  task: () => state.current,
  project: () => state.project,
  update: updateTask,
  answer: (verdict) => (["accept", "reject", "ignore"].includes(verdict) ? answer(verdict) : undefined),
  event: (name, payload) => api.event(name, payload),
});
start();

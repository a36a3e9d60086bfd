// The sidebar: run info, progress bar, answer counts and the history of recent answers.

import { el } from "./views.js";

const ICONS = { accept: "✓", reject: "✗", ignore: "⊘" };

export function showRunInfo(project, session) {
  document.getElementById("info-recipe").textContent = project.recipe;
  document.getElementById("info-dataset").textContent = project.dataset ?? "(not saved)";
  document.getElementById("info-session").textContent = session;
}

// progress: 0..1, or null when unknown (shown as ∞); forecast: answers still needed with their
// likely range ({remaining, low, high}), from a model in the loop, or null.
export function showProgress(progress, forecast) {
  const said = document.getElementById("progress-forecast");
  said.hidden = !forecast;
  if (forecast) {
    const range = forecast.low === forecast.high ? "" : ` (${forecast.low}–${forecast.high})`;
    said.textContent = forecast.remaining === 0 && forecast.high === 0
      ? "the model has stopped learning"
      : `about ${forecast.remaining} more answers${range}`;
  }
  const bar = document.getElementById("progress-bar");
  const fill = document.getElementById("progress-fill");
  const text = document.getElementById("progress-text");
  if (progress === null || progress === undefined) {
    bar.classList.add("unknown");
    bar.removeAttribute("aria-valuenow");
    fill.style.width = "100%";
    text.textContent = "∞";
    return;
  }
  // Never round up to 100% before the end: 99.6% is shown as 99%.
  const percent = progress >= 1 ? 100 : Math.floor(progress * 100);
  bar.classList.remove("unknown");
  bar.setAttribute("aria-valuenow", String(percent));
  fill.style.width = `${percent}%`;
  text.textContent = `${percent}%`;
}

export function showStats(stats) {
  if (!stats) return;
  document.getElementById("stats").hidden = false;
  for (const which of ["session", "dataset"]) {
    const row = document.getElementById(`stats-${which}`);
    for (const cell of row.querySelectorAll("td")) cell.textContent = String(stats[which][cell.dataset.k] ?? 0);
  }
}

function snippet(task) {
  const text = task.text ?? (task.html ? task.html.replace(/<[^>]*>/g, " ") : "");
  return text.length > 60 ? `${text.slice(0, 57)}…` : text;
}

// items: [{answer, state: "unsent" | "sending" | "saved"}], newest last; onPick(item) for unsent.
export function showHistory(items, size, onPick) {
  const list = document.getElementById("history-list");
  list.replaceChildren();
  for (const item of items.slice(-size).reverse()) {
    const row = el("li", `history-item ${item.answer.answer} ${item.state}`);
    row.append(el("span", "icon", ICONS[item.answer.answer] || "?"), el("span", "snippet", snippet(item.answer)));
    if (item.state === "unsent") {
      row.title = "Not saved yet: click to change this answer";
      row.addEventListener("click", () => onPick(item));
    } else {
      row.title = item.state === "saved" ? "Saved" : "Saving…";
    }
    list.append(row);
  }
}

export function showSaveState(unsent, failing) {
  const node = document.getElementById("save-state");
  node.classList.toggle("failing", Boolean(failing));
  if (failing) node.textContent = `${unsent} answers not saved yet: retrying…`;
  else node.textContent = unsent ? `${unsent} answers to save` : "All answers saved";
}

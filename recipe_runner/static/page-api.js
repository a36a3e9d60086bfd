// The page's API for a recipe's own JavaScript (config `javascript`, served as /recipe.js):
// window.rr (also window.prodigy, for code written for Prodigy) and events on document.
//
//   rr.task                   the task on screen (read it; change it with rr.update)
//   rr.project, rr.config     the run: recipe, dataset, view_id, labels, config
//   rr.update(patch)          merge keys into the task on screen and draw it again
//   rr.event(name, payload)   call the recipe's event hook `name`: a Promise of its dict
//   rr.answer(verdict)        answer the task: "accept", "reject" or "ignore"
// Events (detail in event.detail): rrmount {project} once the first task is shown,
// rrtask {task} each time a task is shown, rrupdate {task} after rr.update, rranswer {answer}.
// Each is also sent with a "prodigy" prefix (prodigymount, prodigyupdate, prodigyanswer).

const PRODIGY = { rrmount: "prodigymount", rrupdate: "prodigyupdate", rranswer: "prodigyanswer" };

export function emit(name, detail) {
  document.dispatchEvent(new CustomEvent(name, { detail }));
  if (PRODIGY[name]) document.dispatchEvent(new CustomEvent(PRODIGY[name], { detail }));
}

// page: {task(), project(), update(patch), answer(verdict), event(name, payload)}
export function installPageApi(page) {
  const rr = Object.freeze({
    get task() {
      return page.task();
    },
    get project() {
      return page.project();
    },
    get config() {
      return (page.project() || {}).config || {};
    },
    get content() {
      return page.task();
    },
    update: (patch) => page.update(patch),
    event: (name, payload = {}) => page.event(name, payload),
    answer: (verdict) => page.answer(verdict),
  });
  window.rr = rr;
  window.prodigy = rr;
}

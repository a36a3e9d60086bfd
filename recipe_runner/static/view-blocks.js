// The blocks view: several views in one card for one task (config `blocks`). Each block sees
// the task with its own keys laid over it (say, its own `options` or `text: null`), and what it
// changes goes into the one task: one accept / reject / ignore answers the whole card.

import { el } from "./dom.js";

// The task as a block sees it: the block's keys first, then the task's. Writes go to the task.
export function blockTask(task, block) {
  return new Proxy(task, {
    get: (target, key) => (key !== "view_id" && Object.hasOwn(block, key) ? block[key] : target[key]),
    has: (target, key) => (key !== "view_id" && Object.hasOwn(block, key)) || key in target,
    set: (target, key, value) => {
      target[key] = value;
      return true;
    },
  });
}

export function blocksView(task, ctx, renderTask) {
  const node = el("div", "blocks");
  const inBlock = Object.create(ctx, { inBlock: { value: true } });
  for (const block of ctx.config.blocks || []) {
    const part = el("section", `block block-${block.view_id}`);
    part.append(renderTask(block.view_id, blockTask(task, block), inBlock).node);
    node.append(part);
  }
  return { node };
}

// A Mustache-style template over a task, for the html view's `html_template`:
//   {{key}} / {{meta.url}}   the value at that path, HTML-escaped
//   {{{key}}} / {{& key}}    the value as HTML (only for HTML the recipe trusts)
//   {{#key}}...{{/key}}      the block once per item of a list, once for any other true value
//                            (inside, {{.}} is the item and keys are looked up in it first)
//   {{^key}}...{{/key}}      the block when the value is missing, false or an empty list
//   {{! comment }}

const ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;", "`": "&#96;", "=": "&#61;" };

export function escapeHtml(value) {
  return String(value).replace(/[&<>"'`=]/g, (c) => ESCAPES[c]);
}

const TAG = /\{\{(\{?)\s*([#^/!&]?)\s*([^}]*?)\s*\}?\}\}/g;

function lookup(stack, path) {
  if (path === ".") return stack[stack.length - 1];
  const [head, ...rest] = path.split(".");
  for (let i = stack.length - 1; i >= 0; i--) {
    const scope = stack[i];
    if (scope !== null && typeof scope === "object" && head in scope) {
      let value = scope[head];
      for (const part of rest) value = value === null || value === undefined ? undefined : value[part];
      return value;
    }
  }
  return undefined;
}

function show(value) {
  if (value === null || value === undefined) return "";
  return typeof value === "object" ? JSON.stringify(value) : String(value);
}

// Tokens -> a tree: text, {name, raw} variables and {section, inverted, children}.
function parse(template) {
  const root = { children: [] };
  const open = [root];
  let at = 0;
  for (const match of template.matchAll(TAG)) {
    const [whole, triple, sigil, name] = match;
    const top = open[open.length - 1];
    if (match.index > at) top.children.push(template.slice(at, match.index));
    at = match.index + whole.length;
    if (sigil === "!") continue;
    if (sigil === "#" || sigil === "^") {
      const section = { section: name, inverted: sigil === "^", children: [] };
      top.children.push(section);
      open.push(section);
    } else if (sigil === "/") {
      if (open.length > 1 && top.section === name) open.pop();
    } else {
      top.children.push({ name, raw: triple === "{" || sigil === "&" });
    }
  }
  open[open.length - 1].children.push(template.slice(at));
  return root;
}

function render(nodes, stack) {
  let out = "";
  for (const node of nodes) {
    if (typeof node === "string") out += node;
    else if (node.section === undefined) {
      const text = show(lookup(stack, node.name));
      out += node.raw ? text : escapeHtml(text);
    } else {
      const value = lookup(stack, node.section);
      const empty = !value || (Array.isArray(value) && value.length === 0);
      if (node.inverted) {
        if (empty) out += render(node.children, stack);
      } else if (Array.isArray(value)) {
        for (const item of value) out += render(node.children, [...stack, item]);
      } else if (!empty) {
        out += render(node.children, [...stack, value]);
      }
    }
  }
  return out;
}

const parsed = new Map(); // a template is parsed once per page

export function renderTemplate(template, data) {
  let tree = parsed.get(template);
  if (!tree) parsed.set(template, (tree = parse(template)));
  return render(tree.children, [data]);
}
